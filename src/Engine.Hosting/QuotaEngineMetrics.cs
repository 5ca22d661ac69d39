using System.Diagnostics.Metrics;
using Quota.Engine.Model;

namespace Quota.Engine.Hosting;

/// <summary>
/// The engine's meter, <c>Quota.Engine</c> (registered with OpenTelemetry by <c>AddQuotaEngine</c>; add an exporter to
/// see it): whether the engine is healthy, and the decisions and charges of the doors that call it (the ASP.NET Core
/// rate limiter, the chat and embedding middleware). Recording allocates nothing: the tags are built once.
/// </summary>
public sealed class QuotaEngineMetrics
{
    /// <summary>The meter's name, for <c>AddMeter</c>.</summary>
    public const string MeterName = "Quota.Engine";

    private static readonly KeyValuePair<string, object?>[] ResultTags = BuildResultTags();
    private readonly Counter<long> decisions;
    private readonly Counter<long> charged;

    /// <summary>Creates the meter and its instruments.</summary>
    public QuotaEngineMetrics(IMeterFactory meters, QuotaEngineHost host)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(host);
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableGauge("quota.engine.healthy", () => host.IsOpen && host.Persistent.Fault is null ? 1 : 0,
            description: "1 while the engine is open and its delta log and checkpoints work");
        decisions = meter.CreateCounter<long>("quota.engine.decisions", description: "Reserve decisions by result");
        charged = meter.CreateCounter<long>("quota.engine.charged", unit: "{unit}", description: "Quota units charged by settles");
    }

    /// <summary>Counts one reserve decision, tagged <c>result</c>.</summary>
    public void RecordDecision(ReserveResult result)
    {
        int index = (int)result;
        decisions.Add(1, (uint)index < (uint)ResultTags.Length ? ResultTags[index] : new KeyValuePair<string, object?>("result", result.ToString()));
    }

    /// <summary>Adds the units one settle charged.</summary>
    public void RecordCharge(long units) => charged.Add(units);

    private static KeyValuePair<string, object?>[] BuildResultTags()
    {
        ReserveResult[] values = Enum.GetValues<ReserveResult>();
        var tags = new KeyValuePair<string, object?>[(int)values[^1] + 1];
        foreach (ReserveResult value in values)
        {
            tags[(int)value] = new KeyValuePair<string, object?>("result", value.ToString());
        }

        return tags;
    }
}
