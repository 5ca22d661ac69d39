using Quota.Host.Runtime;

namespace Quota.Host.Operations;

/// <summary>The health answer; <c>error</c> only when unhealthy.</summary>
public sealed record HealthResponse(string Status, string? Error);

public static class OperationsEndpoints
{
    /// <summary>/healthz: 200 while the log is writable, 503 with the fault otherwise.</summary>
    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (QuotaRuntime runtime) => runtime.Persistent.Fault is { } fault
                ? Results.Json(new HealthResponse("unhealthy", fault.ToString()), statusCode: 503)
                : Results.Ok(new HealthResponse("ok", null)))
            .WithSummary("200 while the delta log is writable").Produces<HealthResponse>().Produces<HealthResponse>(503);
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
