using Microsoft.AspNetCore.Http;
using Quota.Engine.Hosting;

namespace Quota.Engine.AspNetCore;

/// <summary>How a <see cref="QuotaRateLimiter"/> maps a request to the engine.</summary>
public sealed class QuotaRateLimiterOptions
{
    /// <summary>
    /// The engine key a request is charged to (an API key's or a user's key id, e.g. from a claim). Called once per
    /// acquire, on the request's thread: keep it cheap and allocation-free. A request it maps to an unknown id (0) is
    /// refused as <c>KeyNotFound</c>. Required.
    /// </summary>
    public Func<HttpContext, int>? KeyResolver { get; set; }

    /// <summary>Quota units reserved per permit (a request acquires one permit), 1 … <see cref="EngineLimits.AmountMaxUnits"/>.</summary>
    public long UnitsPerPermit { get; set; } = 1;

    /// <summary>
    /// The longest wait a refusal announces as <c>RetryAfter</c> metadata (and a <c>Retry-After</c> header), 0 … 1 hour;
    /// a refusal that clears later, or never by itself, announces none and answers <c>x-should-retry: false</c>.
    /// </summary>
    public TimeSpan RetryAfterMax { get; set; } = QuotaRefusal.DefaultRetryAfterMax;

    internal QuotaRateLimiterOptions Validated()
    {
        if (KeyResolver is null)
        {
            throw new ArgumentException("KeyResolver must map a request to an engine key id", nameof(KeyResolver));
        }

        if (UnitsPerPermit is < 1 or > EngineLimits.AmountMaxUnits)
        {
            throw new ArgumentOutOfRangeException(nameof(UnitsPerPermit), UnitsPerPermit, $"must be 1 … {EngineLimits.AmountMaxUnits}");
        }

        if (RetryAfterMax < TimeSpan.Zero || RetryAfterMax > QuotaRefusal.RetryAfterMaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryAfterMax), RetryAfterMax, "must be 0 … 1 hour");
        }

        return new QuotaRateLimiterOptions { KeyResolver = KeyResolver, UnitsPerPermit = UnitsPerPermit, RetryAfterMax = RetryAfterMax };
    }
}
