using Microsoft.AspNetCore.Http.HttpResults;
using Quota.Engine.Model;
using Quota.Host.Application;
using Quota.Host.Cluster;
using Quota.Host.Errors;
using Quota.Host.Operations;
using Quota.Host.Runtime;

namespace Quota.Host.Quota;

/// <summary>The quota API's handlers (mapped by <see cref="QuotaEndpoints"/>); the runtime and metrics are resolved once.</summary>
internal sealed class QuotaApi(IServiceProvider services)
{
    private QuotaRuntime? runtime;
    private HostMetrics? metrics;
    private GatewayKeys? gateways;
    private Admission? admission;

    private QuotaRuntime Runtime => runtime ??= services.GetRequiredService<QuotaRuntime>();
    private HostMetrics Metrics => metrics ??= services.GetRequiredService<HostMetrics>();
    private GatewayKeys Gateways => gateways ??= services.GetRequiredService<GatewayKeys>();
    private Admission Admission => admission ??= services.GetRequiredService<Admission>();

    public async Task ReserveAsync(HttpContext context)
    {
        QuotaRuntime quota = Runtime;
        if (Gateways.Caller(context.Request) is not { } caller)
        {
            await Unauthorized(context).ExecuteAsync(context);
            return;
        }

        JsonBody.Outcome<ReserveInput> body = await JsonBody.ReadAsync<ReserveInput>(context.Request);
        if (!body.IsOk)
        {
            await OpenAiError.BadBody(body).ExecuteAsync(context);
            return;
        }

        ReserveInput input = body.Value!;
        if (Validate(input) is { } invalid)
        {
            await invalid.ExecuteAsync(context);
            return;
        }

        var request = new ReserveRequest(input.Amount!.Value, input.Tokens ?? 0, input.Model);
        // A key by id must have its label: until the start's settling has run, a key whose label a crash lost could be
        // reached here (id 0 names no key, so the engine answers as for an unknown one).
        int? tokenId = input.Key is { } key ? quota.FindTokenByKey(key) : input.TokenId is { } id && !quota.IsLabelled(id) ? 0 : input.TokenId;
        if (tokenId is null)
        {
            await OpenAiError.Result(401, "invalid_api_key", "invalid API key").ExecuteAsync(context);
            return;
        }

        if (input.RequestId is not { } requestId)
        {
            ReserveOutcome reserved = quota.Engine.Reserve(tokenId.Value, request, quota.NowMs);
            await AnswerAsync(context, quota, caller, tokenId.Value, request, input.Model, await Admission.ConfirmAsync(tokenId.Value, request, reserved));
            return;
        }

        RequestIdIndex.Outcome found = await quota.RequestIds.ReserveAsync(tokenId.Value, request, requestId, () => quota.NowMs, context.RequestAborted);
        if (found.Earlier is { } earlier)
        {
            await quota.AcknowledgeAsync(context.RequestAborted); // a retry is answered like the first attempt: once what it names is durable
            if (found.Conflict)
            {
                await OpenAiError.Result(409, "request_id_conflict", $"request_id was already used on this key with another amount ({earlier.AmountUnits})", "request_id")
                    .ExecuteAsync(context);
                return;
            }

            QuotaResponses.Reserved(context.Response, earlier.Id, earlier.AmountUnits, earlier.ExpiresAtMs / 1000);
            return;
        }

        var admitted = new Admitted(found.Reserve, Unavailable: false);
        try
        {
            admitted = await Admission.ConfirmAsync(tokenId.Value, request, found.Reserve);
        }
        finally
        {
            if (found.Attempt is { } attempt)
            {
                // Known before the answer waits for durability: a refunded reservation never answers a retry, and the
                // retries waiting on this attempt go on (each acknowledges before it answers).
                quota.RequestIds.Answer(attempt, held: admitted.Outcome.IsOk);
            }
        }

        await AnswerAsync(context, quota, caller, tokenId.Value, request, input.Model, admitted);
    }

    /// <summary>Answers a reserve: refused, or reserved (owned by <paramref name="caller"/>, the credential that may finish it) once its record is acknowledged under the configured durability.</summary>
    private async Task AnswerAsync(HttpContext context, QuotaRuntime quota, int caller, int tokenId, ReserveRequest request, string? model, Admitted admitted)
    {
        if (admitted.Unavailable)
        {
            await OpenAiError.Result(503, "service_unavailable", ClusterNode.UnavailableMessage).ExecuteAsync(context);
            return;
        }

        ReserveOutcome outcome = admitted.Outcome;
        Metrics.Count(outcome.Result);
        if (!outcome.IsOk)
        {
            await Rejection.Respond(context, quota, tokenId, outcome, model).ExecuteAsync(context);
            return;
        }

        // docs/api.md "Relay" puts the RateLimit headers on relayed responses and on rejections; a gateway that wants its
        // numbers after a successful reserve asks GET /v1/quota (keeps this call free of a token read).
        Gateways.Own(outcome.Id, caller);
        await quota.AcknowledgeAsync(context.RequestAborted);
        QuotaResponses.Reserved(context.Response, outcome.Id, request.AmountUnits, outcome.ExpiresAtMs / 1000);
    }

    public async Task SettleAsync(HttpContext context)
    {
        QuotaRuntime quota = Runtime;
        (ReservationId id, FinishInput? input, IResult? error) = await ReadFinishAsync(context);
        if (error is not null)
        {
            await error.ExecuteAsync(context);
            return;
        }

        if (input!.Amount is not { } amount)
        {
            await OpenAiError.InvalidRequest("amount is required: the actual cost in quota units", "amount").ExecuteAsync(context);
            return;
        }

        if (input.Tokens is < 0 or > Engine.EngineLimits.TokensMax)
        {
            await OpenAiError.InvalidRequest($"tokens must be from 0 to {Engine.EngineLimits.TokensMax}", "tokens").ExecuteAsync(context);
            return;
        }

        FinishOutcome outcome = quota.Engine.Settle(id, amount, input.Tokens ?? -1, quota.NowMs);
        if (outcome.Result != FinishResult.Ok)
        {
            await RefusedAsync(context, quota, outcome.Result);
            return;
        }

        Admission.Finished(id, outcome.ChargedUnits, input.Tokens ?? -1, refunded: false);
        Gateways.Finished(id);

        await quota.AcknowledgeAsync(context.RequestAborted);
        QuotaResponses.Settle(context.Response, id, outcome.ChargedUnits, outcome.Exhausted);
    }

    public async Task RefundAsync(HttpContext context)
    {
        QuotaRuntime quota = Runtime;
        (ReservationId id, _, IResult? error) = await ReadFinishAsync(context);
        if (error is not null)
        {
            await error.ExecuteAsync(context);
            return;
        }

        FinishOutcome outcome = quota.Engine.Refund(id, quota.NowMs);
        if (outcome.Result != FinishResult.Ok)
        {
            await RefusedAsync(context, quota, outcome.Result);
            return;
        }

        Admission.Finished(id, 0, 0, refunded: true);
        Gateways.Finished(id);

        await quota.AcknowledgeAsync(context.RequestAborted);
        QuotaResponses.Refund(context.Response, id);
    }

    /// <summary>The checks of a reserve body, in the order the API has always reported them.</summary>
    private static JsonHttpResult<OpenAiErrorBody>? Validate(ReserveInput input)
    {
        if (input.Key is null && input.TokenId is null)
        {
            return OpenAiError.InvalidRequest("key or token_id is required", "key");
        }

        if (input.Key is { Length: > QuotaEndpoints.KeyLengthMax })
        {
            return OpenAiError.InvalidRequest($"key must be at most {QuotaEndpoints.KeyLengthMax} characters", "key");
        }

        if (input.RequestId is { } rid && rid.Length is 0 or > RequestIdIndex.RequestIdLengthMax)
        {
            return OpenAiError.InvalidRequest($"request_id must be 1 to {RequestIdIndex.RequestIdLengthMax} characters", "request_id");
        }

        if (input.Amount is null)
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

        return null;
    }

    /// <summary>
    /// The caller, the body and the reservation it names; a reservation another gateway key made is answered as not
    /// found, the same as one that does not exist (a gateway learns nothing of another's reservations).
    /// </summary>
    private async Task<(ReservationId Id, FinishInput? Input, IResult? Error)> ReadFinishAsync(HttpContext context)
    {
        if (Gateways.Caller(context.Request) is not { } caller)
        {
            return (default, null, Unauthorized(context));
        }

        JsonBody.Outcome<FinishInput> body = await JsonBody.ReadAsync<FinishInput>(context.Request);
        if (!body.IsOk)
        {
            return (default, null, OpenAiError.BadBody(body));
        }

        if (!ReservationId.TryParse(body.Value!.ReservationId, out ReservationId id))
        {
            return (default, null, OpenAiError.InvalidRequest("reservation_id is required: the 16 hex digits a reserve returned", "reservation_id"));
        }

        return Gateways.MayFinish(id, caller) ? (id, body.Value, null) : (default, null, Refused(FinishResult.NotFound));
    }

    /// <summary>A missing or wrong admin or gateway key, in the OpenAI error shape; a wrong one counts against the client's address.</summary>
    private static JsonHttpResult<OpenAiErrorBody> Unauthorized(HttpContext context)
    {
        FailedAuthThrottle.Record(context, AuthSurface.QuotaApi);
        return OpenAiError.Result(401, "invalid_api_key", "the admin key or a gateway key is required, and the one sent is missing or wrong");
    }

    /// <summary>
    /// A finish that did not apply. "Already settled / refunded / expired" states how the reservation ended, which may
    /// not be durable yet (another call's finish waiting for its commit): it is acknowledged first, as that call's answer
    /// is, so no answer names an end that a crash can undo.
    /// </summary>
    private static async Task RefusedAsync(HttpContext context, QuotaRuntime quota, FinishResult result)
    {
        if (result is FinishResult.AlreadySettled or FinishResult.AlreadyRefunded or FinishResult.AlreadyExpired)
        {
            await quota.AcknowledgeAsync(context.RequestAborted);
        }

        await Refused(result).ExecuteAsync(context);
    }

    private static JsonHttpResult<OpenAiErrorBody> Refused(FinishResult result)
    {
        (int status, string code, string message) = FinishRejection.Of(result);
        return OpenAiError.Result(status, code, message, status == 400 ? "amount" : "reservation_id");
    }
}
