using System.Diagnostics.Metrics;
using Quota.Host.Runtime;

namespace Quota.Host.Operations;

/// <summary>The host's metrics (System.Diagnostics.Metrics, exported in Prometheus text at /metrics).</summary>
public sealed class HostMetrics
{
    public const string MeterName = "Quota.Host";

    public HostMetrics(IMeterFactory meters, QuotaRuntime runtime, Alerts.AlertSink alerts)
    {
        Meter meter = meters.Create(MeterName);
        meter.CreateObservableGauge("quota_log_ring_depth", () => runtime.Persistent.Writer.RingDepth, description: "Delta records appended but not yet in the log");
        meter.CreateObservableCounter("quota_log_committed_sequence", () => runtime.Persistent.Writer.CommittedThrough, description: "Highest durable delta sequence");
        meter.CreateObservableCounter("quota_log_ring_full_total", () => runtime.Persistent.Writer.RingFullCount, description: "Appends that found the ring full");
        meter.CreateObservableGauge("quota_healthy", () => runtime.Persistent.Fault is null ? 1 : 0, description: "1 while the delta log and checkpoints work");
        meter.CreateObservableCounter("quota_system_log_dropped_total", () => runtime.Persistent.Logs.DroppedRows, description: "Log rows dropped: the writer's queue was full, or their batch could not be written");
        meter.CreateObservableCounter("quota_log_rows_failed_total", () => runtime.Persistent.Logs.FailedWrites, description: "Log row batch writes the store refused");
        Decisions = meter.CreateCounter<long>("quota_decisions_total", description: "Reserve decisions by result");
        Alerts = meter.CreateCounter<long>("quota_alerts_total", description: "Budget alert thresholds crossed, by scope (policy, wallet) and threshold");
        AlertDeliveriesFailed = meter.CreateCounter<long>("quota_alert_deliveries_failed_total", description: "Webhook deliveries of alerts that failed (each is retried)");
        AuthFailures = meter.CreateCounter<long>("quota_auth_failures_total", description: "Credentials refused, by surface (signin, admin_api, quota_api, relay, key_lookup)");
        AuthThrottled = meter.CreateCounter<long>("quota_auth_throttled_total", description: "Requests refused with 429 because their address failed to authenticate too often");
        AlertsUndelivered = meter.CreateCounter<long>("quota_alerts_undelivered_total", description: "Alert messages given up after Alerts:AttemptsMax failed deliveries, by webhook");
        meter.CreateObservableCounter("quota_shadow_refusals_total", () => runtime.Engine.ShadowRefusalCount, description: "Requests admitted that a shadow policy would have refused (one per such policy), since the process started");
        meter.CreateObservableCounter("quota_key_store_lookups_total", () => runtime.KeyStoreLookups, description: "Relay keys looked up in the store (only until the start's pass over the labels ends; then an unknown key reads nothing)");
        meter.CreateObservableGauge("quota_alerts_queued", () => alerts.Queued, description: "Alert crossings detected and not yet written to the outbox");
    }

    public Counter<long> Decisions { get; }
    public Counter<long> Alerts { get; }
    public Counter<long> AlertDeliveriesFailed { get; }
    public Counter<long> AuthFailures { get; }
    public Counter<long> AuthThrottled { get; }
    public Counter<long> AlertsUndelivered { get; }

    /// <summary>Counts one reserve decision by its result (the relay and the quota API).</summary>
    public static void Count(HttpContext context, Engine.Model.ReserveResult result) =>
        context.RequestServices.GetRequiredService<HostMetrics>().Count(result);

    /// <inheritdoc cref="Count(HttpContext, Engine.Model.ReserveResult)"/>
    public void Count(Engine.Model.ReserveResult result) =>
        Decisions.Add(1, new KeyValuePair<string, object?>("result", result.ToString()));
}
