using System.Globalization;
using System.Text;
using Quota.Engine.Model;
using Quota.Host.Admin;

namespace Quota.Host.Errors;

/// <summary>
/// The IETF draft headers, one list item per enabled policy:
/// <c>RateLimit-Policy: "daily";q=100;w=86400</c> and <c>RateLimit: "daily";r=40;t=3600</c>.
/// </summary>
public static class RateLimitHeaders
{
    public static void Add(HttpResponse response, TokenView token, long nowMs)
    {
        var policies = new StringBuilder();
        var limits = new StringBuilder();
        foreach (PolicyView policy in token.Policies)
        {
            if (!policy.Spec.Enabled)
            {
                continue;
            }

            string name = PolicyJson.ModeName(policy.Spec.Mode);
            long windowSeconds = (policy.PeriodEndMs - policy.PeriodStartMs) / 1000;
            long resetSeconds = Math.Max(0, (policy.PeriodEndMs - nowMs + 999) / 1000);
            Separate(policies).Append(CultureInfo.InvariantCulture, $"\"{name}\";q={policy.Spec.QuotaUnits};w={windowSeconds}");
            Separate(limits).Append(CultureInfo.InvariantCulture, $"\"{name}\";r={policy.RemainingUnits};t={resetSeconds}");
        }

        if (policies.Length > 0)
        {
            response.Headers["RateLimit-Policy"] = policies.ToString();
            response.Headers["RateLimit"] = limits.ToString();
        }
    }

    private static StringBuilder Separate(StringBuilder builder) => builder.Length == 0 ? builder : builder.Append(", ");
}
