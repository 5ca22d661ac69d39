using Quota.Engine.Model;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Quota;

public sealed class ReserveInput
{
    public string? Key { get; set; }
    public int? TokenId { get; set; }
    public long? Amount { get; set; }
    public string? RequestId { get; set; }
}

public sealed class FinishInput
{
    public string? ReservationId { get; set; }
    public long? Amount { get; set; }
}

/// <summary>/api/quota: reserve / settle / refund for gateways written in other languages.</summary>
public static class QuotaEndpoints
{
    public static RouteGroupBuilder MapQuota(this RouteGroupBuilder group)
    {
        group.MapPost("/reserve", ReserveAsync).Accepts<ReserveInput>("application/json").WithSummary("Reserve an estimate on a key (idempotent by request_id)")
            .Produces(StatusCodes.Status400BadRequest).Produces(StatusCodes.Status401Unauthorized).Produces(StatusCodes.Status403Forbidden).Produces(StatusCodes.Status429TooManyRequests);
        group.MapPost("/settle", (HttpContext context, QuotaRuntime runtime) => FinishAsync(context, runtime, settle: true))
            .Accepts<FinishInput>("application/json").WithSummary("Settle a reservation at its actual cost (idempotent)")
            .Produces(StatusCodes.Status404NotFound).Produces(StatusCodes.Status409Conflict);
        group.MapPost("/refund", (HttpContext context, QuotaRuntime runtime) => FinishAsync(context, runtime, settle: false))
            .Accepts<FinishInput>("application/json").WithSummary("Refund a reservation (idempotent)")
            .Produces(StatusCodes.Status404NotFound).Produces(StatusCodes.Status409Conflict);
        return group;
    }

    private static async Task<IResult> ReserveAsync(HttpContext context, QuotaRuntime runtime)
    {
        JsonBody.Outcome<ReserveInput> body = await JsonBody.ReadAsync<ReserveInput>(context.Request);
        if (!body.IsOk)
        {
            return OpenAiError.BadBody(body);
        }

        ReserveInput input = body.Value!;
        int? tokenId = input.Key is { } key ? runtime.FindTokenByKey(key) : input.TokenId;
        if (input.Key is null && input.TokenId is null)
        {
            return OpenAiError.InvalidRequest("key or token_id is required", "key");
        }

        if (tokenId is null)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        if (input.Amount is not > 0)
        {
            return OpenAiError.InvalidRequest("amount is required and must be a positive integer", "amount");
        }

        if (input.RequestId is { } requestId && runtime.TryGetRequest(requestId, out RequestIdEntry earlier))
        {
            return Reserved(earlier.Id, earlier.Amount, earlier.ExpiresAtMs);
        }

        ReserveOutcome outcome = runtime.Engine.Reserve(tokenId.Value, input.Amount.Value, runtime.NowMs);
        Operations.HostMetrics.Count(context, outcome.Result);
        if (!outcome.IsOk)
        {
            return Rejection.Respond(context, runtime, tokenId.Value, outcome);
        }

        if (input.RequestId is { } newRequestId)
        {
            runtime.RememberRequest(newRequestId, new RequestIdEntry(outcome.Id, input.Amount.Value, outcome.ExpiresAtMs));
        }

        // API.md puts the RateLimit headers on relayed responses and on rejections; a gateway that wants its
        // numbers after a successful reserve asks GET /v1/quota (keeps this call free of a token read).
        await runtime.AcknowledgeAsync(context.RequestAborted);
        return Reserved(outcome.Id, input.Amount.Value, outcome.ExpiresAtMs);
    }

    private static IResult Reserved(ReservationId id, long amount, long expiresAtMs) =>
        Results.Ok(new { reservation_id = id.ToString(), amount, expires_at = expiresAtMs / 1000 });

    private static async Task<IResult> FinishAsync(HttpContext context, QuotaRuntime runtime, bool settle)
    {
        JsonBody.Outcome<FinishInput> body = await JsonBody.ReadAsync<FinishInput>(context.Request);
        if (!body.IsOk)
        {
            return OpenAiError.BadBody(body);
        }

        FinishInput input = body.Value!;
        if (!ReservationId.TryParse(input.ReservationId, out ReservationId id))
        {
            return OpenAiError.InvalidRequest("reservation_id is required: the id a reserve returned", "reservation_id");
        }

        if (settle && input.Amount is not >= 0)
        {
            return OpenAiError.InvalidRequest("amount is required and must not be negative", "amount");
        }

        FinishOutcome outcome = settle ? runtime.Engine.Settle(id, input.Amount!.Value, runtime.NowMs) : runtime.Engine.Refund(id, runtime.NowMs);
        switch (outcome.Result)
        {
            case FinishResult.NotFound:
                return OpenAiError.Result(404, "reservation_not_found", "no such reservation (unknown, or finished long ago)", "reservation_id");
            case FinishResult.InvalidAmount:
                return OpenAiError.InvalidRequest("amount is out of range", "amount");
            case FinishResult.AlreadySettled or FinishResult.AlreadyRefunded or FinishResult.AlreadyExpired:
                string ended = outcome.Result.ToString()["Already".Length..].ToLowerInvariant();
                return OpenAiError.Result(409, "reservation_already_finished", $"the reservation was already {ended}", "reservation_id");
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return settle
            ? Results.Ok(new { reservation_id = id.ToString(), state = "settled", charged = outcome.ChargedUnits, exhausted = outcome.Exhausted })
            : Results.Ok(new { reservation_id = id.ToString(), state = "refunded" });
    }
}
