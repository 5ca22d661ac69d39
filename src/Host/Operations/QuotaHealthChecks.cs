using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Quota.Engine.Persistence;
using Quota.Host.Configuration;
using Quota.Host.Runtime;

namespace Quota.Host.Operations;

// Whether the engine can write its delta log and checkpoint is AddQuotaEngine's check, "quota_engine" (Quota.Engine.Hosting).

/// <summary>The pump keeps up: records appended but not yet in the log stay under <c>Health:RingDepthMax</c>.</summary>
public sealed class RingDepthHealthCheck(QuotaRuntime runtime, IOptions<HealthOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        long depth = runtime.Persistent.Writer.RingDepth, max = options.Value.RingDepthMax;
        return Task.FromResult(depth > max
            ? HealthCheckResult.Degraded($"the delta log is behind: {depth} records wait in the ring (Health:RingDepthMax = {max})")
            : HealthCheckResult.Healthy());
    }
}

/// <summary>The owner-visible log rows are being written (a failing store is retried, then its rows are dropped and counted).</summary>
internal sealed class LogRowsHealthCheck(SystemLogWriter writer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(writer.Fault is { } fault ? HealthCheckResult.Degraded(fault) : HealthCheckResult.Healthy());
}
