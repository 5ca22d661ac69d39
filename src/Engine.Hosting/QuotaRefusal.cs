using Quota.Engine.Model;

namespace Quota.Engine.Hosting;

/// <summary>
/// A refused reserve, explained the way the relay explains it (README "Retry-After, and why it is not always sent"): why,
/// which policy, and when the refusal clears by itself — only a periodic policy's window does (a policy that pauses the key
/// until a manual reset does not; an empty wallet or key budget never refills by itself). The ASP.NET Core rate limiter and
/// the chat middleware use this one rule, as the host's relay does.
/// </summary>
/// <param name="Reason">What refused (never <see cref="ReserveResult.Ok"/>).</param>
/// <param name="PolicyIndex">The position of the refusing policy, or -1.</param>
/// <param name="ResetsAt">When the refusal clears by itself (the refusing window's end), or null when it never does by itself.</param>
public sealed record QuotaRefusal(ReserveResult Reason, int PolicyIndex, DateTimeOffset? ResetsAt)
{
    /// <summary>The default bound on an announced retry (the relay's <c>Relay:RetryAfterMaxSeconds</c> default).</summary>
    public static readonly TimeSpan DefaultRetryAfterMax = TimeSpan.FromSeconds(60);

    /// <summary>The largest bound accepted (an hour): SDKs sleep for the whole announced wait.</summary>
    public static readonly TimeSpan RetryAfterMaxLimit = TimeSpan.FromHours(1);

    /// <summary>Explains a refusal of <paramref name="tokenId"/> (reads the key: allocates; a refusal is the cold path).</summary>
    public static QuotaRefusal Explain(QuotaEngine engine, int tokenId, in ReserveOutcome outcome, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (outcome.Result is not (ReserveResult.KeyPaused or ReserveResult.PolicyExhausted or ReserveResult.PolicyEstimateTooLarge) ||
            engine.ReadToken(tokenId, nowMs) is not { } key)
        {
            return new QuotaRefusal(outcome.Result, outcome.PolicyIndex, null);
        }

        for (int i = 0; i < key.Policies.Count; i++)
        {
            PolicyView policy = key.Policies[i];
            if (policy.Index == outcome.PolicyIndex)
            {
                bool manualReset = outcome.Result != ReserveResult.PolicyEstimateTooLarge && policy.PausesKey && !policy.Spec.AutoResume;
                return new QuotaRefusal(outcome.Result, outcome.PolicyIndex, manualReset ? null : DateTimeOffset.FromUnixTimeMilliseconds(policy.PeriodEndMs));
            }
        }

        return new QuotaRefusal(outcome.Result, outcome.PolicyIndex, null);
    }

    /// <summary>
    /// The wait to announce (<c>Retry-After</c>): whole seconds, at least one, rounded up — or null when the refusal does not
    /// clear by itself within <paramref name="max"/> (then say "do not retry" instead: a client would sleep for all of it).
    /// </summary>
    public TimeSpan? RetryAfter(DateTimeOffset now, TimeSpan max) => ResetsAt is { } resetsAt ? RetryAfter(resetsAt - now, max) : null;

    /// <summary>
    /// The rule itself, for any refusal that clears by itself in <paramref name="clearsIn"/> (the relay applies it to its
    /// own refusals and to an upstream's 429): whole seconds, at least one, rounded up — or null beyond <paramref name="max"/>.
    /// </summary>
    public static TimeSpan? RetryAfter(TimeSpan clearsIn, TimeSpan max)
    {
        long ms = Math.Max(0, (long)clearsIn.TotalMilliseconds);
        long seconds = Math.Max(1, (ms + 999) / 1000); // "Retry-After: 0" would invite a retry refused again at once
        return seconds <= (long)max.TotalSeconds ? TimeSpan.FromSeconds(seconds) : null;
    }
}
