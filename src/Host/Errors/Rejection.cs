using Microsoft.AspNetCore.Http.HttpResults;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Errors;

/// <summary>The response to a refused reserve, shared by the relay and the quota API: code, localized message, headers.</summary>
public static class Rejection
{
    public static JsonHttpResult<OpenAiErrorBody> Respond(HttpContext context, QuotaRuntime runtime, int tokenId, ReserveOutcome outcome)
    {
        (int status, string code) = ReserveRejection.Of(outcome.Result);
        string message = ReserveRejection.DefaultMessage(outcome.Result);
        long now = runtime.NowMs;
        long? clearsInMs = null; // a 403 (wallet, key budget) never clears by itself
        if (runtime.Engine.ReadToken(tokenId, now) is { } view)
        {
            RateLimitHeaders.Add(context.Response, view, now);
            if (status == 429 && view.Policies.FirstOrDefault(p => p.Index == outcome.PolicyIndex) is { } policy)
            {
                (message, bool recovers) = PolicyMessages.For(outcome.Result, policy, now, context.Request.Headers.AcceptLanguage);
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
