using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Quota.Engine.Hosting;
using Quota.Engine.Model;

namespace Quota.Engine.AspNetCore;

/// <summary>
/// A <see cref="PartitionedRateLimiter{TResource}"/> of requests backed by the quota engine: the partition is the engine
/// key <see cref="QuotaRateLimiterOptions.KeyResolver"/> names, a permit is <see cref="QuotaRateLimiterOptions.UnitsPerPermit"/>
/// quota units, and a granted lease is a reservation on every account of that key (wallet, budget, policies) — refunded
/// when the lease is released, unless the endpoint settled it (<see cref="IQuotaReservationFeature"/>).
/// <para>Contracts of System.Threading.RateLimiting, with a queue limit of zero: <c>AttemptAcquire</c> never waits;
/// <c>AcquireAsync</c> queues nothing — it answers at once, as the attempt would, and throws only a cancellation that was
/// requested before the call. A permit count the engine can never hold (more than <see cref="EngineLimits.AmountMaxUnits"/>
/// units) throws <see cref="ArgumentOutOfRangeException"/>; zero permits grant an empty lease when the key would admit a
/// request now (asked of the engine by reserving one unit and refunding it), a refused one otherwise. A refusal carries
/// <see cref="MetadataName.RetryAfter"/> only when it clears by itself within <see cref="QuotaRateLimiterOptions.RetryAfterMax"/>
/// (<see cref="QuotaRefusal.RetryAfter(TimeSpan, TimeSpan)"/>). After Dispose every call throws <see cref="ObjectDisposedException"/>.</para>
/// <para>Thread-safety: every member may be called concurrently; acquire and release are lock-free and, for a granted lease,
/// allocation-free (leases are pooled).</para>
/// </summary>
public sealed class QuotaRateLimiter : PartitionedRateLimiter<HttpContext>
{
    private readonly QuotaRateLimiterOptions options;
    private readonly Func<HttpContext, int> keyOf;
    private readonly string? policyName;
    private QuotaEngine? engine;
    private TimeProvider time;
    private QuotaEngineMetrics? metrics;
    private long successful;
    private long failed;
    private int disposed;

    /// <summary>A limiter over <paramref name="engine"/> that limits every request it is asked about (e.g. as <c>GlobalLimiter</c>).</summary>
    /// <param name="engine">The engine whose keys are charged.</param>
    /// <param name="options">The key resolver and the units per permit; validated and copied (throws naming a bad one).</param>
    /// <param name="time">The engine's clock; null: the system clock.</param>
    /// <param name="metrics">Counts the decisions and charges; null: none.</param>
    public QuotaRateLimiter(QuotaEngine engine, QuotaRateLimiterOptions options, TimeProvider? time = null, QuotaEngineMetrics? metrics = null)
        : this(policyName: null, options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        this.engine = engine;
        this.time = time ?? TimeProvider.System;
        this.metrics = metrics;
    }

    /// <summary>A limiter of the endpoints that require <paramref name="policyName"/>, over the application's engine (bound at the first request).</summary>
    internal QuotaRateLimiter(string? policyName, QuotaRateLimiterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options.Validated();
        keyOf = this.options.KeyResolver!;
        this.policyName = policyName;
        time = TimeProvider.System;
    }

    /// <summary>
    /// The key's statistics: available permits from the engine's current numbers (the least of what the wallet, the key's
    /// budget and each enabled policy still admit, in permits; a requests policy admits its remaining requests), no queue,
    /// and the granted and refused leases of this limiter across all keys. Reads the key: allocates.
    /// </summary>
    public override RateLimiterStatistics? GetStatistics(HttpContext resource)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(resource);
        QuotaEngine bound = Bind(resource);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return new RateLimiterStatistics
        {
            CurrentAvailablePermits = AvailablePermits(bound, keyOf(resource), now),
            CurrentQueuedCount = 0,
            TotalSuccessfulLeases = Interlocked.Read(ref successful),
            TotalFailedLeases = Interlocked.Read(ref failed),
        };
    }

    /// <inheritdoc/>
    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(resource);
        long units = permitCount * options.UnitsPerPermit; // int × (≤ 2^40): no overflow
        if (units > EngineLimits.AmountMaxUnits)
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount, $"{permitCount} permits of {options.UnitsPerPermit} units exceed what one reservation may hold ({EngineLimits.AmountMaxUnits})");
        }

        if (policyName is not null && !RequiresThisPolicy(resource))
        {
            return HeldNothingLease.Instance;
        }

        QuotaEngine bound = Bind(resource);
        int key = keyOf(resource);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        ReserveOutcome outcome = bound.Reserve(key, Math.Max(1, units), now); // zero permits: does one unit fit now?
        metrics?.RecordDecision(outcome.Result);
        if (outcome.IsOk)
        {
            Interlocked.Increment(ref successful);
            if (units == 0)
            {
                bound.Refund(outcome.Id, now);
                return HeldNothingLease.Instance;
            }

            return QuotaLease.Rent(bound, time, metrics, outcome.Id, resource);
        }

        Interlocked.Increment(ref failed);
        var refusal = QuotaRefusal.Explain(bound, key, outcome, now);
        return new RefusedLease(refusal, refusal.RetryAfter(DateTimeOffset.FromUnixTimeMilliseconds(now), options.RetryAfterMax));
    }

    /// <summary>Answers at once, as <see cref="PartitionedRateLimiter{TResource}.AttemptAcquire"/> would: nothing is queued.</summary>
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<RateLimitLease>(cancellationToken)
            : new ValueTask<RateLimitLease>(AttemptAcquireCore(resource, permitCount));
    }

    /// <summary>Refuses every later call with <see cref="ObjectDisposedException"/>; leases already granted still release normally.</summary>
    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref disposed, 1);
        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    protected override ValueTask DisposeAsyncCore()
    {
        Volatile.Write(ref disposed, 1);
        return base.DisposeAsyncCore();
    }

    private bool RequiresThisPolicy(HttpContext context) =>
        string.Equals(context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName, policyName, StringComparison.Ordinal);

    /// <summary>A limiter made by <c>AddQuotaPolicy</c> binds to the application's engine at its first request (the services exist by then).</summary>
    private QuotaEngine Bind(HttpContext context)
    {
        if (Volatile.Read(ref engine) is { } bound) // acquire: pairs with the release below, so time and metrics are seen set
        {
            return bound;
        }

        QuotaEngineHost host = context.RequestServices.GetRequiredService<QuotaEngineHost>();
        metrics = context.RequestServices.GetService<QuotaEngineMetrics>();
        time = host.Time;
        Volatile.Write(ref engine, host.Engine);
        return host.Engine;
    }

    private int AvailablePermits(QuotaEngine bound, int key, long now)
    {
        if (bound.ReadToken(key, now) is not { } view || view.Status != TokenStatus.Enabled || bound.ReadUser(view.UserId) is not { } wallet)
        {
            return 0;
        }

        long units = wallet.QuotaUnits - wallet.ReservedQuotaUnits;
        if (!view.UnlimitedQuota)
        {
            units = Math.Min(units, view.RemainQuotaUnits - view.ReservedQuotaUnits);
        }

        long requests = long.MaxValue;
        foreach (PolicyView policy in view.Policies)
        {
            if (!policy.Spec.Enabled || !policy.Spec.AppliesTo(null)) // a request names no model: scoped policies do not apply
            {
                continue;
            }

            if (policy.Spec.Metric == PolicyMetric.Quota)
            {
                units = Math.Min(units, policy.RemainingUnits);
            }
            else if (policy.Spec.Metric == PolicyMetric.Requests)
            {
                requests = Math.Min(requests, policy.RemainingUnits);
            }
        }

        return (int)Math.Clamp(Math.Min(Math.Max(0, units) / options.UnitsPerPermit, requests), 0, int.MaxValue);
    }
}
