using Quota.Host.Errors;

namespace Quota.Host.Quota;

public sealed class ReserveInput
{
    public string? Key { get; set; }
    public int? TokenId { get; set; }
    public long? Amount { get; set; }
    public string? RequestId { get; set; }
    /// <summary>The model the request is for (policies scoped to models apply by it).</summary>
    public string? Model { get; set; }
    /// <summary>Estimated tokens, for <c>tokens</c> policies.</summary>
    public long? Tokens { get; set; }
}

public sealed class FinishInput
{
    public string? ReservationId { get; set; }
    public long? Amount { get; set; }
    /// <summary>Actual tokens, for <c>tokens</c> policies (absent: the reserved estimate).</summary>
    public long? Tokens { get; set; }
}

/// <summary>A reserve's answer: the id to settle or refund, the amount held, when it expires (Unix seconds).</summary>
public sealed record ReservedResponse(string ReservationId, long Amount, long ExpiresAt);

/// <summary>A settle's answer; <c>exhausted</c> says the charge exhausted a policy of the key.</summary>
public sealed record SettledResponse(string ReservationId, string State, long Charged, bool Exhausted);

public sealed record RefundedResponse(string ReservationId, string State);

/// <summary>
/// /api/quota: reserve / settle / refund for gateways written in other languages. The hot path of a gateway, so the
/// handlers take only the <see cref="HttpContext"/> (no endpoint filter, no parameter binding), check the admin key
/// themselves (before reading the body, as the group filter did), read the body in one pass and write the 200 body
/// directly (<see cref="QuotaResponses"/>); errors go through the typed results as before. docs/perf/quota-api-profile.md
/// shows what each of these removed.
/// </summary>
public static class QuotaEndpoints
{
    /// <summary>Longest API key accepted in a body (keys are 51 characters).</summary>
    public const int KeyLengthMax = 128;

    public static RouteGroupBuilder MapQuota(this RouteGroupBuilder group)
    {
        var api = new QuotaApi(((IEndpointRouteBuilder)group).ServiceProvider);
        group.MapPost("/reserve", (Func<HttpContext, Task>)api.ReserveAsync).Accepts<ReserveInput>("application/json")
            .WithSummary("Reserve an estimate on a key (idempotent by request_id, per key)")
            .Produces<ReservedResponse>().ProducesOpenAiErrors(400, 401, 403, 409, 413, 415, 429, 503);
        group.MapPost("/settle", (Func<HttpContext, Task>)api.SettleAsync).Accepts<FinishInput>("application/json")
            .WithSummary("Settle a reservation at its actual cost (idempotent)")
            .Produces<SettledResponse>().ProducesOpenAiErrors(400, 401, 404, 409, 413, 415);
        group.MapPost("/refund", (Func<HttpContext, Task>)api.RefundAsync).Accepts<FinishInput>("application/json")
            .WithSummary("Refund a reservation (idempotent)")
            .Produces<RefundedResponse>().ProducesOpenAiErrors(400, 401, 404, 409, 413, 415);
        return group;
    }

    /// <summary>Declares the OpenAI-style error body for each status (OpenAPI).</summary>
    public static RouteHandlerBuilder ProducesOpenAiErrors(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (int status in statuses)
        {
            builder.Produces<OpenAiErrorBody>(status);
        }

        return builder;
    }
}
