using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Quota.Engine;
using Quota.Engine.Model;

namespace Quota.Benchmarks;

/// <summary>
/// One request's accounting: reserve + settle on a key with a wallet, a lifetime budget and policies, against the
/// peers a user would otherwise pick, in the same run. Baseline: the targets' configuration (1 policy; bench/README.md).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("pair")]
public class PairBenchmarks
{
    private const long Amount = 60;
    private QuotaEngine engine = null!;
    private QuotaEngine leasedNode = null!; // a cluster node: its window admits against a lease from an in-memory authority
    private int leased;
    private int noPolicy, graceful, strict, four, mixed;
    private long now;
    private const string MixedModel = "gpt-4o-mini"; // matched by all 4 policies of the mixed key
    private FixedWindowRateLimiter limiter = null!;
    private LockedQuota locked = null!;
    private SqliteConnection sqlite = null!;
    private SqliteCommand sqliteReserve = null!, sqliteSettle = null!;
    private string sqlitePath = "";

    [GlobalSetup]
    public void Setup()
    {
        engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16 });
        now = engine.NowMs;
        int user = engine.CreateUser(1L << 60).Id;
        QuotaPolicySpec Policy(BoundaryMode mode, PeriodMode period = PeriodMode.Daily) =>
            new() { QuotaUnits = 1L << 46, Mode = period, AnchorMs = now, BoundaryMode = mode, TimeZone = "UTC" };
        int Token(params QuotaPolicySpec[] policies) =>
            engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1L << 60, Policies = policies }, now).Id;
        noPolicy = Token();
        graceful = Token(Policy(BoundaryMode.Graceful));
        strict = Token(Policy(BoundaryMode.Strict));
        // Mixed metrics and model scope: quota for every model, tokens and quota scoped by model, a 1-minute requests window.
        mixed = Token(
            Policy(BoundaryMode.Graceful),
            Policy(BoundaryMode.Strict, PeriodMode.Weekly) with { Metric = PolicyMetric.Tokens, Models = ["gpt-4o*"] },
            Policy(BoundaryMode.Graceful, PeriodMode.Custom) with { Metric = PolicyMetric.Requests, CustomMinutes = 1 },
            Policy(BoundaryMode.Strict, PeriodMode.Monthly) with { Models = ["demo-per-call", "gpt-4o-mini"] });
        four = Token(Policy(BoundaryMode.Graceful), Policy(BoundaryMode.Strict, PeriodMode.Weekly), Policy(BoundaryMode.Graceful, PeriodMode.Monthly), Policy(BoundaryMode.Strict, PeriodMode.Preset5h));

        leasedNode = new QuotaEngine(
            new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16, LeasedWindows = true, LeaseAheadRequests = 1_000 },
            leases: new Quota.Engine.Leases.InMemoryLeaseAuthority().ForNode(1));
        leased = leasedNode.CreateToken(
            new TokenSpec { UserId = leasedNode.CreateUser(1L << 60).Id, RemainQuotaUnits = 1L << 60, Policies = [Policy(BoundaryMode.Graceful)] }, now).Id;

        limiter = new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue, Window = TimeSpan.FromDays(1), QueueLimit = 0, AutoReplenishment = false });
        locked = new LockedQuota();
        locked.AddUser(1, 1L << 60);
        locked.AddKey(1, 1, 1L << 60, now, new LockedQuota.Policy(1L << 46));

        Verify();
        sqlitePath = Path.Combine(Path.GetTempPath(), $"quota-bench-{Guid.NewGuid():N}.db");
        sqlite = new SqliteConnection($"Data Source={sqlitePath}");
        sqlite.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" +
                "CREATE TABLE policies (token_id INTEGER PRIMARY KEY, used INTEGER NOT NULL, quota INTEGER NOT NULL);" +
                "INSERT INTO policies VALUES (1, 0, 4611686018427387904);");
        // The reference gateway's pattern (the original gateway's storage): one conditional UPDATE per request to reserve, one to settle.
        sqliteReserve = Command("UPDATE policies SET used = used + $n WHERE token_id = 1 AND used + $n <= quota");
        sqliteSettle = Command("UPDATE policies SET used = used + $d WHERE token_id = 1");
    }

    /// <summary>Every measured pair must be an admitted one: a refusal would time the rejection path instead.</summary>
    private void Verify()
    {
        LockedQuotaCheck.Run();
        foreach (int token in new[] { noPolicy, graceful, strict, four })
        {
            Check(engine.Reserve(token, Amount, now), token);
        }

        Check(engine.Reserve(mixed, new ReserveRequest(Amount, Tokens: 512, Model: MixedModel), now), mixed);
        if (Engine_Pair_LeasedNode() != Amount)
        {
            throw new InvalidOperationException("the leased node refused the benchmark's pair");
        }

        if (locked.Reserve(1, Amount, 0, now, out long id) != ReserveResult.Ok || locked.Settle(id, Amount, -1, out _, out _) != FinishResult.Ok)
        {
            throw new InvalidOperationException("the locked peer refused the benchmark's pair");
        }

        void Check(ReserveOutcome r, int token)
        {
            if (!r.IsOk || engine.Settle(r.Id, Amount, now).Result != FinishResult.Ok)
            {
                throw new InvalidOperationException($"token {token}: the benchmark's pair was refused ({r.Result})");
            }
        }
    }

    private void Execute(string sql)
    {
        using SqliteCommand command = sqlite.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql)
    {
        SqliteCommand command = sqlite.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$n", Amount);
        command.Parameters.AddWithValue("$d", 0L);
        command.Prepare();
        return command;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        sqliteReserve.Dispose();
        sqliteSettle.Dispose();
        sqlite.Dispose();
        SqliteConnection.ClearAllPools();
        File.Delete(sqlitePath);
        limiter.Dispose();
    }

    private long Pair(int token)
    {
        ReserveOutcome r = engine.Reserve(token, Amount, now);
        return engine.Settle(r.Id, Amount, now).ChargedUnits;
    }

    [Benchmark(Baseline = true, Description = "engine: wallet + budget + 1 policy (graceful)")]
    public long Engine_Pair_OnePolicy() => Pair(graceful);

    /// <summary>
    /// The same pair on a cluster node whose window is leased: the async door, completing synchronously against the live
    /// lease (a grant of 1,000 requests' worth every 1,000 pairs, from an in-memory authority, is part of the mean).
    /// </summary>
    [Benchmark(Description = "engine: wallet + budget + 1 leased policy (cluster node, live lease)")]
    public long Engine_Pair_LeasedNode()
    {
        ValueTask<ReserveOutcome> reserve = leasedNode.ReserveAsync(leased, new ReserveRequest(Amount), now);
        ReserveOutcome r = reserve.IsCompletedSuccessfully ? reserve.Result : throw new InvalidOperationException("the lease authority did not answer at once");
        return leasedNode.Settle(r.Id, Amount, now).ChargedUnits;
    }

    [Benchmark(Description = "engine: wallet + budget, no policy")]
    public long Engine_Pair_NoPolicy() => Pair(noPolicy);

    [Benchmark(Description = "engine: wallet + budget + 1 policy (strict)")]
    public long Engine_Pair_Strict() => Pair(strict);

    [Benchmark(Description = "engine: wallet + budget + 4 policies")]
    public long Engine_Pair_FourPolicies() => Pair(four);

    [Benchmark(Description = "engine: wallet + budget + 4 mixed policies (quota, tokens, requests; model-scoped)")]
    public long Engine_Pair_FourMixedPolicies()
    {
        ReserveOutcome r = engine.Reserve(mixed, new ReserveRequest(Amount, Tokens: 512, Model: MixedModel), now);
        return engine.Settle(r.Id, Amount, actualTokens: 300, now).ChargedUnits;
    }

    [Benchmark(Description = "engine: reserve + refund, 1 policy")]
    public long Engine_ReserveRefund() => engine.Refund(engine.Reserve(graceful, Amount, now).Id, now).ChargedUnits;

    [Benchmark(Description = "peer: FixedWindowRateLimiter acquire + dispose")]
    public bool Peer_FixedWindowRateLimiter()
    {
        using RateLimitLease lease = limiter.AttemptAcquire(1);
        return lease.IsAcquired;
    }

    [Benchmark(Description = "peer: ConcurrentDictionary + lock, same rules")]
    public long Peer_LockedDictionary()
    {
        locked.Reserve(1, Amount, 0, now, out long id);
        locked.Settle(id, Amount, -1, out long charged, out _);
        return charged;
    }

    [Benchmark(Description = "peer: SQLite UPDATE … WHERE used + n <= quota (reserve + settle)")]
    public int Peer_SqliteUpdate() => sqliteReserve.ExecuteNonQuery() + sqliteSettle.ExecuteNonQuery();
}
