using Microsoft.AspNetCore.Http.HttpResults;
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

/// <summary>/api/quota: reserve / settle / refund for gateways written in other languages.</summary>
public static class QuotaEndpoints
{
    /// <summary>Longest API key accepted in a body (keys are 51 characters).</summary>
    public const int KeyLengthMax = 128;

    public static RouteGroupBuilder MapQuota(this RouteGroupBuilder group)
    {
        group.MapPost("/reserve", ReserveAsync).Accepts<ReserveInput>("application/json").WithSummary("Reserve an estimate on a key (idempotent by request_id, per key)")
            .ProducesOpenAiErrors(400, 401, 403, 409, 413, 415, 429, 503);
        group.MapPost("/settle", (HttpContext context, QuotaRuntime runtime) => SettleAsync(context, runtime))
            .Accepts<FinishInput>("application/json").WithSummary("Settle a reservation at its actual cost (idempotent)")
            .ProducesOpenAiErrors(400, 404, 409, 413, 415);
        group.MapPost("/refund", (HttpContext context, QuotaRuntime runtime) => RefundAsync(context, runtime))
            .Accepts<FinishInput>("application/json").WithSummary("Refund a reservation (idempotent)")
            .ProducesOpenAiErrors(400, 404, 409, 413, 415);
        return group;
    }

    private static async Task<Results<Ok<ReservedResponse>, JsonHttpResult<OpenAiErrorBody>>> ReserveAsync(HttpContext context, QuotaRuntime runtime)
    {
        JsonBody.Outcome<ReserveInput> body = await JsonBody.ReadAsync<ReserveInput>(context.Request);
        if (!body.IsOk)
        {
            return OpenAiError.BadBody(body);
        }

        ReserveInput input = body.Value!;
        if (input.Key is null && input.TokenId is null)
        {
            return OpenAiError.InvalidRequest("key or token_id is required", "key");
        }

        if (input.Key is { Length: > KeyLengthMax })
        {
            return OpenAiError.InvalidRequest($"key must be at most {KeyLengthMax} characters", "key");
        }

        if (input.RequestId is { } rid && rid.Length is 0 or > RequestIdIndex.RequestIdLengthMax)
        {
            return OpenAiError.InvalidRequest($"request_id must be 1 to {RequestIdIndex.RequestIdLengthMax} characters", "request_id");
        }

        if (input.Amount is not { } amount)
        {
            return OpenAiError.InvalidRequest("amount is required: the estimate in quota units", "amount");
        }

        if (input.Model is { Length: > Engine.EngineLimits.ModelNameLengthMax })
        {
            return OpenAiError.InvalidRequest($"model must be at most {Engine.EngineLimits.ModelNameLengthMax} characters", "model");
        }

        if (input.Tokens is < 0 or > Engine.EngineLimits.TokensMax)
        {
            return OpenAiError.InvalidRequest($"tokens must be from 0 to {Engine.EngineLimits.TokensMax}", "tokens");
        }

        var request = new ReserveRequest(amount, input.Tokens ?? 0, input.Model);
        int? tokenId = input.Key is { } key ? runtime.FindTokenByKey(key) : input.TokenId;
        if (tokenId is null)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        ReserveOutcome outcome;
        if (input.RequestId is { } requestId)
        {
            RequestIdIndex.Outcome found = runtime.RequestIds.Reserve(tokenId.Value, request, requestId, runtime.NowMs);
            if (found.Earlier is { } earlier)
            {
                return found.Conflict
                    ? OpenAiError.Result(409, "request_id_conflict", $"request_id was already used on this key with another amount ({earlier.AmountUnits})", "request_id")
                    : TypedResults.Ok(new ReservedResponse(earlier.Id.ToString(), earlier.AmountUnits, earlier.ExpiresAtMs / 1000));
            }

            outcome = found.Reserve;
        }
        else
        {
            outcome = runtime.Engine.Reserve(tokenId.Value, request, runtime.NowMs);
        }

        Operations.HostMetrics.Count(context, outcome.Result);
        if (!outcome.IsOk)
        {
            return Rejection.Respond(context, runtime, tokenId.Value, outcome, input.Model);
        }

        // docs/api.md "Relay" puts the RateLimit headers on relayed responses and on rejections; a gateway that wants its
        // numbers after a successful reserve asks GET /v1/quota (keeps this call free of a token read).
        await runtime.AcknowledgeAsync(context.RequestAborted);
        return TypedResults.Ok(new ReservedResponse(outcome.Id.ToString(), amount, outcome.ExpiresAtMs / 1000));
    }

    private static async Task<Results<Ok<SettledResponse>, JsonHttpResult<OpenAiErrorBody>>> SettleAsync(HttpContext context, QuotaRuntime runtime)
    {
        (ReservationId id, FinishInput? input, JsonHttpResult<OpenAiErrorBody>? error) = await ReadFinishAsync(context);
        if (error is not null)
        {
            return error;
        }

        if (input!.Amount is not { } amount)
        {
            return OpenAiError.InvalidRequest("amount is required: the actual cost in quota units", "amount");
        }

        if (input.Tokens is < 0 or > Engine.EngineLimits.TokensMax)
        {
            return OpenAiError.InvalidRequest($"tokens must be from 0 to {Engine.EngineLimits.TokensMax}", "tokens");
        }

        FinishOutcome outcome = runtime.Engine.Settle(id, amount, input.Tokens ?? -1, runtime.NowMs);
        if (outcome.Result != FinishResult.Ok)
        {
            return Refused(outcome.Result);
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return TypedResults.Ok(new SettledResponse(id.ToString(), "settled", outcome.ChargedUnits, outcome.Exhausted));
    }

    private static async Task<Results<Ok<RefundedResponse>, JsonHttpResult<OpenAiErrorBody>>> RefundAsync(HttpContext context, QuotaRuntime runtime)
    {
        (ReservationId id, _, JsonHttpResult<OpenAiErrorBody>? error) = await ReadFinishAsync(context);
        if (error is not null)
        {
            return error;
        }

        FinishOutcome outcome = runtime.Engine.Refund(id, runtime.NowMs);
        if (outcome.Result != FinishResult.Ok)
        {
            return Refused(outcome.Result);
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return TypedResults.Ok(new RefundedResponse(id.ToString(), "refunded"));
    }

    private static async Task<(ReservationId Id, FinishInput? Input, JsonHttpResult<OpenAiErrorBody>? Error)> ReadFinishAsync(HttpContext context)
    {
        JsonBody.Outcome<FinishInput> body = await JsonBody.ReadAsync<FinishInput>(context.Request);
        if (!body.IsOk)
        {
            return (default, null, OpenAiError.BadBody(body));
        }

        return ReservationId.TryParse(body.Value!.ReservationId, out ReservationId id)
            ? (id, body.Value, null)
            : (default, null, OpenAiError.InvalidRequest("reservation_id is required: the 16 hex digits a reserve returned", "reservation_id"));
    }

    private static JsonHttpResult<OpenAiErrorBody> Refused(FinishResult result)
    {
        (int status, string code, string message) = FinishRejection.Of(result);
        return OpenAiError.Result(status, code, message, status == 400 ? "amount" : "reservation_id");
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
