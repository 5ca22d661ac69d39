using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Quota.Engine.Hosting;

/// <summary>
/// Healthy while the engine can write its delta log and take checkpoints; Unhealthy with the fault otherwise (reserves
/// are then refused with <c>LogFull</c>), and while the engine is not open.
/// </summary>
public sealed class QuotaEngineHealthCheck(QuotaEngineHost host) : IHealthCheck
{
    /// <summary>The name <c>AddQuotaEngine</c> registers this check under.</summary>
    public const string Name = "quota_engine";

    /// <inheritdoc/>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            !host.IsOpen ? HealthCheckResult.Unhealthy("the quota engine is not open")
            : host.Persistent.Fault is { } fault ? HealthCheckResult.Unhealthy(fault)
            : HealthCheckResult.Healthy());
}
