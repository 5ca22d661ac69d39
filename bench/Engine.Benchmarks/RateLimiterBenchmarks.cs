using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Quota.Engine;
using Quota.Engine.AspNetCore;
using Quota.Engine.Model;

namespace Quota.Benchmarks;

/// <summary>
/// ASP.NET Core's rate-limiter door (src/Engine.AspNetCore): QuotaRateLimiter.AttemptAcquire + dispose — a reservation on a
/// key with a wallet, a budget and one daily policy, refunded at release — against FixedWindowRateLimiter's, in the same
/// run. Target: at most 2× the fixed window, 0 B (bench/README.md).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("limiter")]
public class RateLimiterBenchmarks
{
    private readonly DefaultHttpContext request = new();
    private QuotaRateLimiter quota = null!;
    private FixedWindowRateLimiter fixedWindow = null!;

    [GlobalSetup]
    public void Setup()
    {
        var engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16 });
        long now = engine.NowMs;
        int user = engine.CreateUser(1L << 60).Id;
        int key = engine.CreateToken(new TokenSpec
        {
            UserId = user,
            RemainQuotaUnits = 1L << 60,
            Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 46, Mode = PeriodMode.Daily, AnchorMs = now, TimeZone = "UTC" }],
        }, now).Id;
        quota = new QuotaRateLimiter(engine, new QuotaRateLimiterOptions { KeyResolver = _ => key, UnitsPerPermit = 60 });
        fixedWindow = new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue, Window = TimeSpan.FromDays(1), QueueLimit = 0, AutoReplenishment = false });
        using RateLimitLease check = quota.AttemptAcquire(request);
        if (!check.IsAcquired)
        {
            throw new InvalidOperationException("the quota limiter refused the benchmark's request");
        }
    }

    [Benchmark(Baseline = true, Description = "peer: FixedWindowRateLimiter AttemptAcquire + dispose")]
    public bool FixedWindow()
    {
        using RateLimitLease lease = fixedWindow.AttemptAcquire(1);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "QuotaRateLimiter AttemptAcquire + dispose (reserve + refund)")]
    public bool Quota()
    {
        using RateLimitLease lease = quota.AttemptAcquire(request);
        return lease.IsAcquired;
    }
}
