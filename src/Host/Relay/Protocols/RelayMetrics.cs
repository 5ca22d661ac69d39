using System.Diagnostics.Metrics;
using Quota.Host.Operations;

namespace Quota.Host.Relay.Protocols;

/// <summary>The relay's own counters, on the host's meter (exported at /metrics).</summary>
public sealed class RelayMetrics
{
    private readonly Counter<long> clamped;

    public RelayMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        clamped = meters.Create(HostMetrics.MeterName).CreateCounter<long>("quota_upstream_usage_clamped",
            description: "Replies whose reported output exceeded the forwarded cap (charged the cap), by model");
    }

    public void Clamped(string model) => clamped.Add(1, new KeyValuePair<string, object?>("model", model));
}
