using System.Globalization;
using Microsoft.Extensions.Options;
using Quota.Engine.Model;
using Quota.Host.Configuration;

namespace Quota.Host.Limits;

/// <summary>
/// Anthropic's unified rate-limit headers on every <c>/v1/messages</c> answer (relayed, streamed or refused), from the
/// key's own policies (docs/relay.md "Unified limits"), so Claude Code's status line and warnings show this relay's
/// limits: <c>anthropic-ratelimit-unified-status</c>, <c>-5h-utilization</c> / <c>-7d-utilization</c> (fractions),
/// <c>-5h-reset</c> / <c>-7d-reset</c> (Unix seconds) and <c>-representative-claim</c>. A window the key does not
/// have is left out; the status is always there.
/// </summary>
public static class UnifiedHeaders
{
    public const string Status = "anthropic-ratelimit-unified-status";
    public const string FiveHourUtilization = "anthropic-ratelimit-unified-5h-utilization";
    public const string FiveHourReset = "anthropic-ratelimit-unified-5h-reset";
    public const string SevenDayUtilization = "anthropic-ratelimit-unified-7d-utilization";
    public const string SevenDayReset = "anthropic-ratelimit-unified-7d-reset";
    public const string RepresentativeClaim = "anthropic-ratelimit-unified-representative-claim";

    /// <summary>The limits of <paramref name="token"/> for a request for <paramref name="model"/>, with the host's <c>Relay:UnifiedWarnAt</c>.</summary>
    public static UnifiedLimits Of(HttpContext context, TokenView token, long nowMs, string? model, bool refused = false, int refusedBy = -1)
    {
        ArgumentNullException.ThrowIfNull(context);
        double warnAt = context.RequestServices.GetRequiredService<IOptions<RelayOptions>>().Value.UnifiedWarnAt;
        return UnifiedLimits.Of(token, nowMs, warnAt, model, refused, refusedBy);
    }

    public static void Write(HttpResponse response, in UnifiedLimits limits)
    {
        ArgumentNullException.ThrowIfNull(response);
        IHeaderDictionary headers = response.Headers;
        headers[Status] = limits.StatusName;
        Window(headers, FiveHourUtilization, FiveHourReset, limits.FiveHour);
        Window(headers, SevenDayUtilization, SevenDayReset, limits.SevenDay);
        if (limits.RepresentativeClaim is { } claim)
        {
            headers[RepresentativeClaim] = claim;
        }
    }

    /// <summary>Used ÷ quota as the headers write it: at most four decimals, invariant (<c>0</c>, <c>0.8</c>, <c>0.3333</c>, <c>1</c>).</summary>
    public static string Fraction(PolicyView policy) => (UnifiedLimits.TenThousandths(policy) / 10_000m).ToString("0.####", CultureInfo.InvariantCulture);

    private static void Window(IHeaderDictionary headers, string utilization, string reset, PolicyView? policy)
    {
        if (policy is null)
        {
            return;
        }

        headers[utilization] = Fraction(policy);
        headers[reset] = UnifiedLimits.ResetSeconds(policy).ToString(CultureInfo.InvariantCulture);
    }
}
