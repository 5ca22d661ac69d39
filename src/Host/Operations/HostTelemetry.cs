using System.Diagnostics;

namespace Quota.Host.Operations;

/// <summary>
/// The host's traces: one <see cref="ActivitySource"/> (<c>Quota.Host</c>). A relayed request is a <c>relay</c> span
/// with three children — <c>reserve</c> (the decision, and the refusing policy's index and metric), <c>upstream</c>
/// (the provider's call, stream included) and <c>settle</c> or <c>refund</c>. Spans cost nothing unless a listener
/// (the OpenTelemetry exporter, a test) samples them.
/// </summary>
public static class HostTelemetry
{
    public const string SourceName = "Quota.Host";

    public static readonly ActivitySource Source = new(SourceName);

    // Attribute names: OpenTelemetry's gen_ai conventions where one exists, quota.* for the engine's own.
    public const string Model = "gen_ai.request.model";
    public const string TokenId = "quota.token_id";
    public const string EstimateUnits = "quota.estimate_units";
    public const string Decision = "quota.decision";
    public const string PolicyIndex = "quota.policy.index";
    public const string PolicyMetric = "quota.policy.metric";
    public const string ChargedUnits = "quota.charged_units";
    public const string FinishResult = "quota.finish_result";
    public const string UpstreamStatus = "http.response.status_code";
}
