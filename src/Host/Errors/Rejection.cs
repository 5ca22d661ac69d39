using Microsoft.AspNetCore.Http.HttpResults;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Errors;

/// <summary>
/// The response to a refused reserve, shared by the relay and the quota API: code, localized message naming the kind of
/// limit, the rate-limit headers of the policies that apply to the request's model, and the retry headers.
/// </summary>
public static class Rejection
{
    public static JsonHttpResult<OpenAiErrorBody> Respond(HttpContext context, QuotaRuntime runtime, int tokenId, ReserveOutcome outcome, string? model)
    {
        (int status, string code) = ReserveRejection.Of(outcome.Result);
        string message = ReserveRejection.DefaultMessage(outcome.Result);
        long now = runtime.NowMs;
        long? clearsInMs = null; // a 403 (wallet, key budget) never clears by itself
        if (runtime.ReadToken(tokenId, now, fresh: false) is { } view)
        {
            RateLimitHeaders.Add(context.Response, view, now, model, outcome.PolicyIndex);
            if (status == 429 && view.Policies.FirstOrDefault(p => p.Index == outcome.PolicyIndex) is { } policy)
            {
                (message, bool recovers) = PolicyMessages.For(outcome.Result, policy, now, context.Request.Headers.AcceptLanguage, model);
                clearsInMs = recovers ? policy.PeriodEndMs - now : null;
            }
        }

        if (status is 429 or 403)
        {
            RetryHeaders.Add(context.Response, clearsInMs);
        }

        return OpenAiError.Result(status, code, message, outcome.Result == ReserveResult.InvalidAmount ? "amount" : null);
    }
}
