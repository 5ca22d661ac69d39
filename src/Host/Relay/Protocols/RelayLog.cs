namespace Quota.Host.Runtime;

// The relay's log lines about providers and token kinds (the rest of the host's are in HostLog.cs).
internal static partial class HostLog
{
    [LoggerMessage(EventName = "upstream_usage_clamped", Level = LogLevel.Warning,
        Message = "upstream_usage_clamped: model {Model}, key {TokenId}: the upstream reported {ReportedOutput} output tokens, the forwarded request allowed {AllowedOutput}; charged {AllowedOutput}")]
    public static partial void UsageClamped(ILogger logger, string model, int tokenId, long reportedOutput, long allowedOutput);
}
