using System.Globalization;
using Microsoft.Extensions.Options;
using Quota.Engine.Hosting;
using Quota.Host.Configuration;

namespace Quota.Host.Errors;

/// <summary>
/// Whether a client should retry a 429 or 403 — one rule for the relay and the quota API (README, "Retry-After").
/// Standard SDKs honour <c>Retry-After</c> literally: the OpenAI .NET SDK sleeps for it before each of its retries, so
/// a daily window's "retry in 86,000 s" would hang the caller for a day. <c>Retry-After</c> is therefore sent only when
/// the refusal clears by itself within <see cref="RelayOptions.RetryAfterMaxSeconds"/>; otherwise the answer carries
/// <c>x-should-retry: false</c> (which the OpenAI SDKs for Node and Python obey) and no <c>Retry-After</c>. The reset
/// time is not lost: it stays in the <c>RateLimit</c> header (<c>t=</c>) and in the message. The wait itself is
/// <see cref="QuotaRefusal.RetryAfter(TimeSpan, TimeSpan)"/>, the rule the embeddable rate limiter and middleware follow.
/// </summary>
public static class RetryHeaders
{
    public const string ShouldRetry = "x-should-retry";

    /// <param name="response">the 429 or 403 being written</param>
    /// <param name="clearsInMs">how long until the refusal clears by itself; null when it never does by itself (an empty
    /// wallet or key budget, a policy that needs a manual reset)</param>
    public static void Add(HttpResponse response, long? clearsInMs)
    {
        int maxSeconds = response.HttpContext.RequestServices.GetRequiredService<IOptions<RelayOptions>>().Value.RetryAfterMaxSeconds;
        if (clearsInMs is { } ms && QuotaRefusal.RetryAfter(TimeSpan.FromMilliseconds(ms), TimeSpan.FromSeconds(maxSeconds)) is { } wait)
        {
            response.Headers.RetryAfter = ((long)wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return;
        }

        response.Headers[ShouldRetry] = "false";
    }

    /// <summary>
    /// An upstream 429 passed through: the upstream's own <c>Retry-After</c> (seconds or a date) under the same bound.
    /// Without one the relay adds nothing, so clients fall back to their own short backoff, as with the provider itself.
    /// </summary>
    public static void AddForUpstream(HttpResponse response, HttpResponseMessage upstream, long nowMs)
    {
        if (upstream.StatusCode != System.Net.HttpStatusCode.TooManyRequests || upstream.Headers.RetryAfter is not { } retryAfter)
        {
            return;
        }

        long? clearsInMs = retryAfter.Delta is { } delta ? (long)delta.TotalMilliseconds
            : retryAfter.Date is { } date ? date.ToUnixTimeMilliseconds() - nowMs
            : null;
        Add(response, clearsInMs is { } ms ? Math.Max(0, ms) : null);
    }
}
