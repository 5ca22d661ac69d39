using BenchmarkDotNet.Attributes;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Benchmarks;

/// <summary>The same reserve + settle pair with the delta log off, and on (write-behind to a real FASTER log, pump running).</summary>
[MemoryDiagnoser]
[BenchmarkCategory("writebehind")]
public class WriteBehindBenchmarks
{
    private PersistentEngine? persistent;
    private QuotaEngine engine = null!;
    private int token;
    private long now;
    private string directory = "";

    [Params(false, true)]
    public bool WriteBehind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16 };
        if (WriteBehind)
        {
            directory = Path.Combine(Path.GetTempPath(), $"quota-bench-{Guid.NewGuid():N}");
            persistent = PersistentEngine.Open(new PersistenceOptions { DataDir = directory, Engine = options, CheckpointInterval = TimeSpan.FromHours(1) });
            engine = persistent.Engine;
        }
        else
        {
            engine = new QuotaEngine(options);
        }

        now = engine.NowMs;
        int user = engine.CreateUser(1L << 60).Id;
        token = engine.CreateToken(new TokenSpec
        {
            UserId = user,
            RemainQuotaUnits = 1L << 60,
            Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 46, Mode = PeriodMode.Daily, AnchorMs = now }],
        }, now).Id;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (persistent is not null)
        {
            persistent.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// A refused reserve (LogFull: the log cannot keep up) is retried, so the time includes any wait for the log:
    /// at full speed this measures the sustained rate the log allows, not just the cost of the append.
    /// </summary>
    [Benchmark(Description = "reserve + settle, wallet + budget + 1 policy")]
    public long Pair()
    {
        ReserveOutcome r = engine.Reserve(token, 60, now);
        while (!r.IsOk)
        {
            Thread.SpinWait(20);
            r = engine.Reserve(token, 60, now);
        }

        return engine.Settle(r.Id, 60, now).ChargedUnits;
    }
}
