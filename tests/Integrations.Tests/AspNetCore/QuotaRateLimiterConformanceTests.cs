using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Quota.Engine;
using Quota.Engine.AspNetCore;
using Quota.Engine.Hosting;
using Quota.Engine.Model;
using Quota.Integrations.Tests.Support;

namespace Quota.Integrations.Tests.AspNetCore;

/// <summary>
/// The expectations dotnet/runtime's own tests hold every RateLimiter to (System.Threading.RateLimiting/tests:
/// BaseRateLimiterTests and its FixedWindowRateLimiter / PartitionedRateLimiter cases), written for a limiter with a queue
/// limit of zero whose permits are engine reservations. Where a fixed window differs by design it says so: a released lease
/// gives its permit back (it is refunded), and nothing is ever queued.
/// </summary>
public sealed class QuotaRateLimiterConformanceTests
{
    private static readonly DefaultHttpContext Request = new();

    private static QuotaRateLimiter Limiter(Books books, long unitsPerPermit = 1, TimeSpan? retryAfterMax = null) => new(books.Engine, new QuotaRateLimiterOptions
    {
        KeyResolver = _ => books.KeyId,
        UnitsPerPermit = unitsPerPermit,
        RetryAfterMax = retryAfterMax ?? QuotaRefusal.DefaultRetryAfterMax,
    });

    [Fact]
    public void CanAcquireResource_AndAReleasedLeaseGivesItsPermitBack()
    {
        var books = new Books(1_000, Books.Requests(1));
        using QuotaRateLimiter limiter = Limiter(books);
        RateLimitLease lease = limiter.AttemptAcquire(Request);
        Assert.True(lease.IsAcquired);
        Assert.False(limiter.AttemptAcquire(Request).IsAcquired);

        lease.Dispose(); // refunded: unlike a fixed window, the permit is back at once
        Assert.Equal(0, books.Reserved);
        using RateLimitLease again = limiter.AttemptAcquire(Request);
        Assert.True(again.IsAcquired);
    }

    [Fact]
    public async Task CanAcquireResourceAsync_AndItCompletesAtOnce()
    {
        var books = new Books(1_000, Books.Requests(1));
        using QuotaRateLimiter limiter = Limiter(books);
        using RateLimitLease lease = await limiter.AcquireAsync(Request);
        Assert.True(lease.IsAcquired);

        ValueTask<RateLimitLease> refused = limiter.AcquireAsync(Request); // queues nothing it cannot admit
        Assert.True(refused.IsCompletedSuccessfully);
        Assert.False((await refused).IsAcquired);
    }

    [Fact]
    public void InvalidOptionsThrow()
    {
        var books = new Books();
        Assert.Throws<ArgumentException>(() => new QuotaRateLimiter(books.Engine, new QuotaRateLimiterOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuotaRateLimiter(books.Engine, new QuotaRateLimiterOptions { KeyResolver = _ => 1, UnitsPerPermit = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuotaRateLimiter(books.Engine, new QuotaRateLimiterOptions { KeyResolver = _ => 1, RetryAfterMax = TimeSpan.FromHours(2) }));
    }

    [Fact]
    public async Task ThrowsWhenAcquiringLessThanZero()
    {
        using QuotaRateLimiter limiter = Limiter(new Books());
        Assert.Throws<ArgumentOutOfRangeException>(() => limiter.AttemptAcquire(Request, -1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await limiter.AcquireAsync(Request, -1));
    }

    [Fact]
    public async Task ThrowsWhenAcquiringMoreThanOneReservationMayHold()
    {
        var books = new Books();
        using QuotaRateLimiter limiter = Limiter(books, unitsPerPermit: EngineLimits.AmountMaxUnits);
        Assert.Throws<ArgumentOutOfRangeException>(() => limiter.AttemptAcquire(Request, 2));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await limiter.AcquireAsync(Request, 2));
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task AcquireZero_WithAvailability_GrantsALeaseThatHoldsNothing()
    {
        var books = new Books(1_000, Books.Requests(1));
        using QuotaRateLimiter limiter = Limiter(books);
        using RateLimitLease lease = limiter.AttemptAcquire(Request, 0);
        Assert.True(lease.IsAcquired);
        using RateLimitLease asyncLease = await limiter.AcquireAsync(Request, 0);
        Assert.True(asyncLease.IsAcquired);
        Assert.Equal(0, books.Reserved);
        Assert.Equal(1, limiter.GetStatistics(Request)!.CurrentAvailablePermits); // the probe took nothing
    }

    [Fact]
    public async Task AcquireZero_WithoutAvailability_IsRefusedAtOnce()
    {
        var books = new Books(1_000, Books.Requests(1));
        using QuotaRateLimiter limiter = Limiter(books);
        using RateLimitLease held = limiter.AttemptAcquire(Request);
        Assert.False(limiter.AttemptAcquire(Request, 0).IsAcquired);
        ValueTask<RateLimitLease> wait = limiter.AcquireAsync(Request, 0); // a fixed window with a queue would wait; this one has none
        Assert.True(wait.IsCompletedSuccessfully);
        Assert.False((await wait).IsAcquired);
    }

    [Fact]
    public async Task CanCancelAcquireAsyncBeforeItStarts()
    {
        var books = new Books(1_000, Books.Requests(1));
        using QuotaRateLimiter limiter = Limiter(books);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        TaskCanceledException e = await Assert.ThrowsAsync<TaskCanceledException>(() => limiter.AcquireAsync(Request, 1, cts.Token).AsTask());
        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.Equal(0, books.Reserved);
        Assert.Equal(1, limiter.GetStatistics(Request)!.CurrentAvailablePermits);
    }

    [Fact]
    public void NoMetadataOnAcquiredLease()
    {
        using QuotaRateLimiter limiter = Limiter(new Books());
        using RateLimitLease lease = limiter.AttemptAcquire(Request);
        Assert.False(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Empty(lease.MetadataNames);
    }

    [Fact]
    public void MetadataNamesContainAllMetadata_OfARefusal()
    {
        var books = new Books(1_000, Books.Requests(1, PeriodMode.Custom, customMinutes: 1));
        using QuotaRateLimiter limiter = Limiter(books);
        using RateLimitLease held = limiter.AttemptAcquire(Request);
        RateLimitLease refused = limiter.AttemptAcquire(Request);
        Assert.Equal(
            [QuotaMetadata.Refusal.Name, MetadataName.ReasonPhrase.Name, MetadataName.RetryAfter.Name],
            refused.MetadataNames.ToArray());
        foreach (string name in refused.MetadataNames)
        {
            Assert.True(refused.TryGetMetadata(name, out object? value) && value is not null, name);
        }

        Assert.True(refused.TryGetMetadata(QuotaMetadata.Refusal, out QuotaRefusal? refusal));
        Assert.Equal(ReserveResult.PolicyExhausted, refusal!.Reason);
        Assert.True(refused.TryGetMetadata(MetadataName.ReasonPhrase, out string? reason));
        Assert.Equal(nameof(ReserveResult.PolicyExhausted), reason);
    }

    [Fact]
    public void RetryAfter_IsTheWaitUntilAOneMinuteWindowRolls()
    {
        var books = new Books(1_000, Books.Requests(1, PeriodMode.Custom, customMinutes: 1));
        using QuotaRateLimiter limiter = Limiter(books);
        using RateLimitLease held = limiter.AttemptAcquire(Request);
        Assert.True(limiter.AttemptAcquire(Request).TryGetMetadata(MetadataName.RetryAfter, out TimeSpan wait));
        Assert.InRange(wait, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void RetryAfter_IsAbsent_WhenTheWindowRecoversLaterThanTheBound_OrNeverByItself()
    {
        var daily = new Books(1_000, Books.Requests(1));
        using QuotaRateLimiter dailyLimiter = Limiter(daily);
        using RateLimitLease held = dailyLimiter.AttemptAcquire(Request);
        RateLimitLease refusedDaily = dailyLimiter.AttemptAcquire(Request);
        Assert.False(refusedDaily.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.True(refusedDaily.TryGetMetadata(QuotaMetadata.Refusal, out QuotaRefusal? dailyRefusal));
        Assert.NotNull(dailyRefusal!.ResetsAt); // it does recover, but not within a minute

        var poor = new Books(walletUnits: 2);
        using QuotaRateLimiter poorLimiter = Limiter(poor, unitsPerPermit: 5);
        RateLimitLease refusedWallet = poorLimiter.AttemptAcquire(Request);
        Assert.False(refusedWallet.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.True(refusedWallet.TryGetMetadata(QuotaMetadata.Refusal, out QuotaRefusal? walletRefusal));
        Assert.Equal(ReserveResult.InsufficientUserQuota, walletRefusal!.Reason);
        Assert.Null(walletRefusal.ResetsAt);

        var minute = new Books(1_000, Books.Requests(1, PeriodMode.Custom, customMinutes: 1));
        using QuotaRateLimiter neverAnnounces = Limiter(minute, retryAfterMax: TimeSpan.Zero);
        using RateLimitLease minuteHeld = neverAnnounces.AttemptAcquire(Request);
        Assert.False(neverAnnounces.AttemptAcquire(Request).TryGetMetadata(MetadataName.RetryAfter, out _));
    }

    [Fact]
    public async Task DisposedLimiter_Throws_ButLeasesItGrantedStillRelease()
    {
        var books = new Books();
        QuotaRateLimiter limiter = Limiter(books, unitsPerPermit: 7);
        RateLimitLease lease = limiter.AttemptAcquire(Request);
        await limiter.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => limiter.AttemptAcquire(Request));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => limiter.AcquireAsync(Request).AsTask());
        Assert.Throws<ObjectDisposedException>(() => limiter.GetStatistics(Request));
        Assert.Equal(7, books.Reserved);
        lease.Dispose();
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public void Statistics_ComeFromTheEngine_AndCountLeases()
    {
        var books = new Books(1_000, Books.Daily(100, BoundaryMode.Strict));
        using QuotaRateLimiter limiter = Limiter(books, unitsPerPermit: 10);
        Assert.Equal(10, limiter.GetStatistics(Request)!.CurrentAvailablePermits);
        using RateLimitLease four = limiter.AttemptAcquire(Request, 4);
        RateLimitLease tooMany = limiter.AttemptAcquire(Request, 7);
        Assert.False(tooMany.IsAcquired);

        RateLimiterStatistics stats = limiter.GetStatistics(Request)!;
        Assert.Equal(6, stats.CurrentAvailablePermits);
        Assert.Equal(0, stats.CurrentQueuedCount);
        Assert.Equal(1, stats.TotalSuccessfulLeases);
        Assert.Equal(1, stats.TotalFailedLeases);
        Assert.NotSame(stats, limiter.GetStatistics(Request));
    }

    [Fact]
    public void ALease_IsRefundedWhenReleased_UnlessSettled_AndReleasingTwiceChangesNothing()
    {
        var books = new Books();
        using QuotaRateLimiter limiter = Limiter(books, unitsPerPermit: 5);
        var context = new DefaultHttpContext();
        RateLimitLease settled = limiter.AttemptAcquire(context);
        IQuotaReservationFeature reservation = context.Features.Get<IQuotaReservationFeature>()!;
        Assert.Equal(FinishResult.Ok, reservation.Settle(12).Result);
        settled.Dispose();
        settled.Dispose();
        Assert.Null(context.Features.Get<IQuotaReservationFeature>());

        RateLimitLease refunded = limiter.AttemptAcquire(context);
        refunded.Dispose();
        refunded.Dispose();
        Assert.Equal(12, books.Used);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public void AnUnknownKey_IsRefusedAsKeyNotFound()
    {
        var books = new Books();
        using var limiter = new QuotaRateLimiter(books.Engine, new QuotaRateLimiterOptions { KeyResolver = _ => 0 });
        RateLimitLease lease = limiter.AttemptAcquire(Request);
        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(QuotaMetadata.Refusal, out QuotaRefusal? refusal));
        Assert.Equal(ReserveResult.KeyNotFound, refusal!.Reason);
    }

    [Fact]
    public void EveryRefusal_HasAStatus()
    {
        foreach (ReserveResult result in Enum.GetValues<ReserveResult>())
        {
            if (result == ReserveResult.Ok)
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => QuotaRejection.StatusOf(result));
            }
            else
            {
                Assert.InRange(QuotaRejection.StatusOf(result), 400, 599);
            }
        }
    }

    [Fact]
    public void ConcurrentAcquires_AdmitExactlyTheWindow()
    {
        var books = new Books(1_000_000, Books.Requests(500));
        using QuotaRateLimiter limiter = Limiter(books, unitsPerPermit: 3);
        int granted = 0;
        var leases = new System.Collections.Concurrent.ConcurrentBag<RateLimitLease>();
        Parallel.For(0, 2_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            RateLimitLease lease = limiter.AttemptAcquire(new DefaultHttpContext());
            if (lease.IsAcquired)
            {
                Interlocked.Increment(ref granted);
                leases.Add(lease);
            }
        });
        Assert.Equal(500, granted);
        Assert.Equal(1_500, books.Reserved);
        Parallel.ForEach(leases, lease => lease.Dispose());
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public void AcquireAndRelease_AllocateNothing()
    {
        var books = new Books(1L << 50, Books.Daily(1L << 40));
        using QuotaRateLimiter limiter = Limiter(books, unitsPerPermit: 60);
        var context = new DefaultHttpContext();
        for (int i = 0; i < 100; i++) // warm: the pooled lease, the feature slot, the engine's paths
        {
            limiter.AttemptAcquire(context).Dispose();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            limiter.AttemptAcquire(context).Dispose();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, books.Reserved);
    }
}
