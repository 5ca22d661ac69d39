using System.Globalization;
using System.Text;
using Quota.Engine.Model;
using Quota.Host.Admin;

namespace Quota.Host.Errors;

/// <summary>
/// The rate-limit headers of a relayed response or a refusal (README, "Rate-limit headers"): the IETF draft's
/// <c>RateLimit-Policy: "quota-daily";q=100;w=86400</c> and <c>RateLimit: "quota-daily";r=40;t=3600</c>, one list item
/// per enabled policy that applies to the request's model; and, for the tightest applicable <c>requests</c> and
/// <c>tokens</c> policy, OpenAI's <c>x-ratelimit-limit-requests</c> / <c>-remaining-</c> / <c>-reset-</c> (and the
/// <c>-tokens</c> trio), whose reset is a duration such as <c>1s</c> or <c>6m0s</c>.
/// </summary>
public static class RateLimitHeaders
{
    /// <summary>The headers for a request for <paramref name="model"/> (null: unnamed, only unscoped policies apply);
    /// the policy that refused it (<paramref name="refusedBy"/>) is always listed, also when it is scoped to other models
    /// (a key paused by it refuses every model).</summary>
    public static void Add(HttpResponse response, TokenView token, long nowMs, string? model, int refusedBy = -1) =>
        Write(response, token, nowMs, p => p.Index == refusedBy || p.Spec.AppliesTo(model));

    /// <summary>The headers with every enabled policy of the key (<c>GET /v1/quota</c>: a key's own numbers, no request).</summary>
    public static void AddEvery(HttpResponse response, TokenView token, long nowMs) => Write(response, token, nowMs, _ => true);

    /// <summary>
    /// A policy's name in the headers: its metric and its period, <c>quota-daily</c>, <c>tokens-preset_5h</c>,
    /// <c>requests-custom-1m</c>; when two enabled policies of the key would share a name, each gets its position
    /// (1–4) appended (<c>quota-daily-2</c>), so a name means the same policy on every response of the key.
    /// </summary>
    public static string NameOf(TokenView token, PolicyView policy)
    {
        ArgumentNullException.ThrowIfNull(token);
        string name = BaseName(policy.Spec);
        foreach (PolicyView other in token.Policies)
        {
            if (other.Index != policy.Index && PolicyNames.Limits(other.Spec) && BaseName(other.Spec) == name)
            {
                return name + "-" + (policy.Index + 1).ToString(CultureInfo.InvariantCulture);
            }
        }

        return name;
    }

    /// <summary>OpenAI's reset format: a Go duration of whole seconds, <c>0s</c>, <c>59s</c>, <c>6m0s</c>, <c>23h59m59s</c>.</summary>
    public static string Duration(long seconds)
    {
        seconds = Math.Max(0, seconds);
        long hours = seconds / 3600, minutes = seconds % 3600 / 60, rest = seconds % 60;
        return hours > 0 ? FormattableString.Invariant($"{hours}h{minutes}m{rest}s")
            : minutes > 0 ? FormattableString.Invariant($"{minutes}m{rest}s")
            : FormattableString.Invariant($"{rest}s");
    }

    private static string BaseName(QuotaPolicySpec spec)
    {
        string metric = PolicyNames.NameOf(PolicyNames.Metrics, spec.Metric);
        return spec.Mode == PeriodMode.Custom
            ? FormattableString.Invariant($"{metric}-custom-{spec.CustomMinutes}m")
            : metric + "-" + PolicyJson.ModeName(spec.Mode);
    }

    private static void Write(HttpResponse response, TokenView token, long nowMs, Func<PolicyView, bool> applies)
    {
        var policies = new StringBuilder();
        var limits = new StringBuilder();
        PolicyView? requests = null, tokens = null;
        foreach (PolicyView policy in token.Policies)
        {
            if (!PolicyNames.Limits(policy.Spec) || !applies(policy))
            {
                continue;
            }

            string name = NameOf(token, policy);
            long windowSeconds = (policy.PeriodEndMs - policy.PeriodStartMs) / 1000;
            Separate(policies).Append(CultureInfo.InvariantCulture, $"\"{name}\";q={policy.Spec.QuotaUnits};w={windowSeconds}");
            Separate(limits).Append(CultureInfo.InvariantCulture, $"\"{name}\";r={policy.RemainingUnits};t={ResetSeconds(policy, nowMs)}");
            if (policy.Spec.Metric == PolicyMetric.Requests)
            {
                requests = Tighter(requests, policy);
            }
            else if (policy.Spec.Metric == PolicyMetric.Tokens)
            {
                tokens = Tighter(tokens, policy);
            }
        }

        if (policies.Length > 0)
        {
            response.Headers["RateLimit-Policy"] = policies.ToString();
            response.Headers["RateLimit"] = limits.ToString();
        }

        AddOpenAi(response, "requests", requests, nowMs);
        AddOpenAi(response, "tokens", tokens, nowMs);
    }

    /// <summary>OpenAI reports one limit per kind: the one with the least left (on a tie, the one that resets last).</summary>
    internal static PolicyView Tighter(PolicyView? current, PolicyView candidate) =>
        current is null || candidate.RemainingUnits < current.RemainingUnits ||
        (candidate.RemainingUnits == current.RemainingUnits && candidate.PeriodEndMs > current.PeriodEndMs)
            ? candidate
            : current;

    private static void AddOpenAi(HttpResponse response, string kind, PolicyView? policy, long nowMs)
    {
        if (policy is null)
        {
            return;
        }

        response.Headers["x-ratelimit-limit-" + kind] = policy.Spec.QuotaUnits.ToString(CultureInfo.InvariantCulture);
        response.Headers["x-ratelimit-remaining-" + kind] = policy.RemainingUnits.ToString(CultureInfo.InvariantCulture);
        response.Headers["x-ratelimit-reset-" + kind] = Duration(ResetSeconds(policy, nowMs));
    }

    /// <summary>Whole seconds to the window's end, rounded up (the reset is never announced early).</summary>
    private static long ResetSeconds(PolicyView policy, long nowMs) => Math.Max(0, (policy.PeriodEndMs - nowMs + 999) / 1000);

    private static StringBuilder Separate(StringBuilder builder) => builder.Length == 0 ? builder : builder.Append(", ");
}
