using System.Threading.RateLimiting;
using Quota.Engine.AspNetCore;

namespace Microsoft.AspNetCore.RateLimiting;

/// <summary>The ASP.NET Core rate-limiting door: <c>builder.Services.AddRateLimiter(o => o.AddQuotaPolicy("quota", q => q.KeyResolver = …))</c>.</summary>
public static class QuotaRateLimiterOptionsExtensions
{
    /// <summary>
    /// Limits the endpoints that require <paramref name="policyName"/> (<c>RequireRateLimiting</c>, <c>[EnableRateLimiting]</c>)
    /// with the engine registered by <c>AddQuotaEngine</c>: each request reserves on the key the resolver names, and the
    /// reservation is refunded when the request ends unless the endpoint settled it (<see cref="IQuotaReservationFeature"/>).
    /// <para>How: the check needs the request itself (to set the feature), which ASP.NET Core gives only to the global
    /// limiter, so a <see cref="QuotaRateLimiter"/> that looks at the endpoint's policy name is chained into
    /// <see cref="RateLimiterOptions.GlobalLimiter"/> (after one set before this call), and the named policy itself admits
    /// everything. <see cref="RateLimiterOptions.OnRejected"/> is wrapped: a quota refusal gets its status and retry headers
    /// (<see cref="QuotaRejection"/>), then the handler set before this call runs.</para>
    /// </summary>
    public static RateLimiterOptions AddQuotaPolicy(this RateLimiterOptions options, string policyName, Action<QuotaRateLimiterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(policyName);
        ArgumentNullException.ThrowIfNull(configure);
        var settings = new QuotaRateLimiterOptions();
        configure(settings);
        var limiter = new QuotaRateLimiter(policyName, settings);
        options.AddPolicy(policyName, static _ => RateLimitPartition.GetNoLimiter(0));
        options.GlobalLimiter = options.GlobalLimiter is { } existing ? PartitionedRateLimiter.CreateChained(existing, limiter) : limiter;
        Func<OnRejectedContext, CancellationToken, ValueTask>? previous = options.OnRejected;
        options.OnRejected = (context, cancellationToken) => QuotaRejection.WriteAsync(context, previous, cancellationToken);
        return options;
    }
}
