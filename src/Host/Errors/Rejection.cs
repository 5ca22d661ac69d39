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
            RecordRefusal(context, runtime, view, outcome, model, now);
            context.RequestServices.GetRequiredService<Alerts.RecoveryWatch>().Notice(view); // a refusal is how a used-up window is seen most
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

    /// <summary>Logs the refusal of a known key as a refusal row (the dashboard counts them; the key's holder reads why).</summary>
    private static void RecordRefusal(HttpContext context, QuotaRuntime runtime, TokenView view, ReserveOutcome outcome, string? model, long now)
    {
        if (outcome.Result == ReserveResult.InvalidAmount)
        {
            return; // a malformed request, not a limit
        }

        string surface = context.Request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase) ? "relay" : "quota_api";
        var row = new Relay.RefusalRow(outcome.Result.ToString(), model, surface, Relay.AdmissionTrace.Refused(view, outcome, model));
        PolicyView? policy = view.Policies.FirstOrDefault(p => p.Index == outcome.PolicyIndex);
        runtime.Persistent.Logs.Enqueue(row.ToRow(now, view.TokenId, view.UserId, policy?.Index ?? -1, policy?.Spec.Metric ?? default));
    }
}
