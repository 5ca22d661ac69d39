using Quota.Engine.Persistence;

namespace Quota.Host.Runtime;

/// <summary>The host's log messages (source-generated: no formatting cost when a level is off).</summary>
internal static partial class HostLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Quota engine opened {DataDir} ({Durability}): {Recovery}")]
    public static partial void Opened(ILogger logger, string dataDir, Durability durability, RecoveryReport recovery);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delta log damage found during recovery; the good prefix was kept: {Corruption}")]
    public static partial void Corruption(ILogger logger, string corruption);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generated the admin key (stored in {Path}; shown only now): {AdminKey}")]
    public static partial void AdminKeyGenerated(ILogger logger, string path, string adminKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay:Upstream:BaseUrl is empty: using the built-in demo upstream (deterministic fake completions)")]
    public static partial void DemoUpstream(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream call failed for model {Model}: {Error}")]
    public static partial void UpstreamFailed(ILogger logger, string model, string error);
}
