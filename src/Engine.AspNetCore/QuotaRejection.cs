using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using System.Threading.RateLimiting;
using Quota.Engine.Hosting;
using Quota.Engine.Model;

namespace Quota.Engine.AspNetCore;

/// <summary>
/// The response to a request the engine refused, as the relay answers it (docs/api.md "Errors"): the status by what refused
/// (one table, <see cref="StatusOf"/>), and for a 429 or 403 either <c>Retry-After</c> (the refusal clears by itself soon) or
/// <c>x-should-retry: false</c>.
/// </summary>
public static class QuotaRejection
{
    /// <summary>The header that tells OpenAI-style clients not to retry.</summary>
    public const string ShouldRetryHeader = "x-should-retry";

    /// <summary>The HTTP status of a refusal: every <see cref="ReserveResult"/> but <c>Ok</c> has a row.</summary>
    public static int StatusOf(ReserveResult reason) => reason switch
    {
        ReserveResult.InvalidAmount => StatusCodes.Status400BadRequest,
        ReserveResult.KeyNotFound or ReserveResult.KeyDisabled or ReserveResult.KeyExpired => StatusCodes.Status401Unauthorized,
        ReserveResult.KeyPaused or ReserveResult.PolicyExhausted or ReserveResult.PolicyEstimateTooLarge => StatusCodes.Status429TooManyRequests,
        ReserveResult.InsufficientUserQuota or ReserveResult.InsufficientKeyQuota => StatusCodes.Status403Forbidden,
        ReserveResult.TooManyOpenReservations or ReserveResult.LogFull or ReserveResult.LeaseShort => StatusCodes.Status503ServiceUnavailable,
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Ok is not a refusal"),
    };

    /// <summary>
    /// Writes the status and retry headers of a refused quota lease, then runs <paramref name="next"/> (the application's own
    /// <c>OnRejected</c>, e.g. to write a body). A lease of another limiter goes to <paramref name="next"/> untouched.
    /// </summary>
    public static ValueTask WriteAsync(OnRejectedContext context, Func<OnRejectedContext, CancellationToken, ValueTask>? next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Lease.TryGetMetadata(QuotaMetadata.Refusal, out QuotaRefusal? refusal) && refusal is not null)
        {
            HttpResponse response = context.HttpContext.Response;
            response.StatusCode = StatusOf(refusal.Reason);
            if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan wait))
            {
                response.Headers.RetryAfter = ((long)wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            }
            else if (response.StatusCode is StatusCodes.Status429TooManyRequests or StatusCodes.Status403Forbidden)
            {
                response.Headers[ShouldRetryHeader] = "false";
            }
        }

        return next is null ? ValueTask.CompletedTask : next(context, cancellationToken);
    }
}
