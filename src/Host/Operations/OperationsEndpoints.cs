using Microsoft.Extensions.Diagnostics.HealthChecks;
using Quota.Host.Runtime;

namespace Quota.Host.Operations;

/// <summary>The health answer; <c>error</c> only when unhealthy.</summary>
public sealed record HealthResponse(string Status, string? Error);

public static class OperationsEndpoints
{
    /// <summary>
    /// /healthz: the health checks (engine fault, delta-log ring depth, log-row writer). 200 <c>{ "status": "ok" }</c> while
    /// all are healthy; otherwise 503 with <c>degraded</c> or <c>unhealthy</c> and what is failing.
    /// </summary>
    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", async (HealthCheckService health, CancellationToken cancellationToken) =>
            {
                HealthReport report = await health.CheckHealthAsync(cancellationToken);
                if (report.Status == HealthStatus.Healthy)
                {
                    return Results.Ok(new HealthResponse("ok", null));
                }

                string error = string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
                    .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Exception?.Message ?? e.Value.Status.ToString()}"));
                return Results.Json(new HealthResponse(report.Status == HealthStatus.Degraded ? "degraded" : "unhealthy", error), statusCode: 503);
            })
            .WithSummary("200 while the delta log is writable, the ring keeps up and log rows are written").Produces<HealthResponse>().Produces<HealthResponse>(503);
        return app;
    }
}

/// <summary>Forgets request ids whose reservation records were recycled, once a minute (the engine expires and rolls on its own).</summary>
public sealed class RequestIdJanitor(QuotaRuntime runtime, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            runtime.RequestIds.Sweep();
        }
    }
}
