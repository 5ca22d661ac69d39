using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Quota.Engine.Hosting;
using Quota.Engine.Model;

namespace Quota.Engine.AspNetCore;

/// <summary>
/// A granted lease: one open reservation. Released (disposed) it is refunded, unless <see cref="Settle"/> charged it first.
/// While held it is the request's <see cref="IQuotaReservationFeature"/>.
/// <para>Pooled, one spare per thread, so that an acquire and its release allocate nothing: like a rented array, a lease
/// must not be touched after it is disposed (the ASP.NET Core middleware disposes it once, at the end of the request).
/// Settle and Dispose are called by the request that holds the lease, not concurrently with each other.</para>
/// </summary>
internal sealed class QuotaLease : RateLimitLease, IQuotaReservationFeature
{
    [ThreadStatic]
    private static QuotaLease? spare;

    private QuotaEngine? engine;
    private TimeProvider? time;
    private QuotaEngineMetrics? metrics;
    private HttpContext? context;
    private ReservationId id;
    private bool settled;

    public static QuotaLease Rent(QuotaEngine engine, TimeProvider time, QuotaEngineMetrics? metrics, ReservationId id, HttpContext? context)
    {
        QuotaLease lease = spare ?? new QuotaLease();
        spare = null;
        lease.engine = engine;
        lease.time = time;
        lease.metrics = metrics;
        lease.id = id;
        lease.settled = false;
        lease.context = context;
        context?.Features.Set<IQuotaReservationFeature>(lease);
        return lease;
    }

    public override bool IsAcquired => true;

    public override IEnumerable<string> MetadataNames => [];

    public ReservationId Id => id;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        return false;
    }

    public FinishOutcome Settle(long actualUnits, long actualTokens = -1)
    {
        if (engine is null || id == ReservationId.None)
        {
            return new FinishOutcome(FinishResult.NotFound, 0, false, false);
        }

        FinishOutcome outcome = engine.Settle(id, actualUnits, actualTokens, time!.GetUtcNow().ToUnixTimeMilliseconds());
        settled |= outcome.Result is FinishResult.Ok or FinishResult.AlreadyExpired or FinishResult.AlreadySettled;
        if (outcome.Result == FinishResult.Ok && !outcome.Replayed)
        {
            metrics?.RecordCharge(outcome.ChargedUnits);
        }

        return outcome;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (engine is null || id == ReservationId.None)
        {
            return; // released already
        }

        if (!settled)
        {
            engine.Refund(id, time!.GetUtcNow().ToUnixTimeMilliseconds());
        }

        context?.Features.Set<IQuotaReservationFeature>(null);
        engine = null;
        time = null;
        metrics = null;
        context = null;
        id = ReservationId.None;
        spare = this;
    }
}

/// <summary>A granted lease that holds nothing: zero permits asked and available, or a request outside the limiter's policy.</summary>
internal sealed class HeldNothingLease : RateLimitLease
{
    public static readonly HeldNothingLease Instance = new();

    public override bool IsAcquired => true;

    public override IEnumerable<string> MetadataNames => [];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        return false;
    }
}

/// <summary>
/// A refused lease: why (<see cref="QuotaMetadata.Refusal"/>, <see cref="MetadataName.ReasonPhrase"/>) and, when the
/// refusal clears by itself soon, <see cref="MetadataName.RetryAfter"/> (the relay's rule, <see cref="QuotaRefusal.RetryAfter(TimeSpan, TimeSpan)"/>).
/// </summary>
internal sealed class RefusedLease(QuotaRefusal refusal, TimeSpan? retryAfter) : RateLimitLease
{
    public override bool IsAcquired => false;

    public override IEnumerable<string> MetadataNames => retryAfter is null
        ? [QuotaMetadata.Refusal.Name, MetadataName.ReasonPhrase.Name]
        : [QuotaMetadata.Refusal.Name, MetadataName.ReasonPhrase.Name, MetadataName.RetryAfter.Name];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = metadataName switch
        {
            _ when metadataName == QuotaMetadata.Refusal.Name => refusal,
            _ when metadataName == MetadataName.ReasonPhrase.Name => refusal.Reason.ToString(),
            _ when metadataName == MetadataName.RetryAfter.Name && retryAfter is { } wait => wait,
            _ => null,
        };
        return metadata is not null;
    }
}
