using System.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// Checkpoints written one partition of the users at a time (docs/design.md "Durability"): the snapshot plus the log after
/// it is exactly the live state, also with reservation slots reused across partitions and work going on meanwhile, and
/// requests are served while a checkpoint of 100,000 keys runs.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    private PersistenceOptions Options(int keysMax = 256) => new()
    {
        DataDir = directory.Path,
        CheckpointInterval = TimeSpan.FromHours(1),
        TickInterval = TimeSpan.FromMinutes(1),
        Engine = new EngineOptions { KeysMax = keysMax, UsersMax = keysMax, ReservationsMax = 64 }, // 64 slots: records are recycled across users
    };

    /// <summary>Users with two keys each; reserves that lap the reservation table, finished every way, some left open.</summary>
    private static void Work(QuotaEngine engine, long now, int users, int round)
    {
        var tokens = new List<int>();
        for (int u = 0; u < users; u++)
        {
            int user = engine.CreateUser(1_000_000).Id;
            for (int k = 0; k < 2; k++)
            {
                tokens.Add(engine.CreateToken(new TokenSpec
                {
                    UserId = user,
                    RemainQuotaUnits = 100_000,
                    Policies = [Policy(500 + u, action: ExhaustedAction.DisableToken, anchorMs: now)],
                }, now).Id);
            }
        }

        for (int i = 0; i < 150; i++)
        {
            int token = tokens[(i * 7 + round) % tokens.Count];
            ReserveOutcome r = engine.Reserve(token, 5 + (i % 11), now);
            if (!r.IsOk)
            {
                continue;
            }

            switch (i % 5)
            {
                case 0: engine.Settle(r.Id, 9, now); break;
                case 1: engine.Refund(r.Id, now); break;
                case 2: break; // stays open
                case 3: engine.KeepAlive(r.Id, now + 1000); engine.Settle(r.Id, 2, now); break;
                default: engine.Settle(r.Id, 0, now); break;
            }
        }

        engine.CreditUser(1, 77 + round);
    }

    [Fact]
    public async Task ACheckpointInPartitions_PlusTheLogAfterIt_RestoresTheExactState()
    {
        long now = T0;
        string before;
        await using (var first = PersistentEngine.Open(Options()))
        {
            first.CheckpointPartitionKeys = 6; // about a dozen partitions
            Work(first.Engine, now, users: 20, round: 0);
            await first.CheckpointAsync();
            Work(first.Engine, now, users: 15, round: 1);
            await first.CheckpointAsync(); // reads the partitioned snapshot back, partition by partition
            Work(first.Engine, now, users: 5, round: 2);
            before = EngineState.Describe(first.Engine, now);
            await first.CloseWithoutCheckpointAsync();
        }

        await using var second = PersistentEngine.Open(Options());
        Assert.Null(second.Recovery.Corruption);
        Assert.True(second.Recovery.SnapshotSequence > 0 && second.Recovery.RecordsReplayed > 0);
        Assert.Equal(before, EngineState.Describe(second.Engine, now));
        Assert.Empty(Diagnostics.ConservationAudit.Check(second.Engine));
    }

    [Fact]
    public async Task ACheckpointWithWorkGoingOn_CoversOneLogPrefix_InEveryPartition()
    {
        long now = T0;
        string before;
        await using (var first = PersistentEngine.Open(Options(keysMax: 1024)))
        {
            first.CheckpointPartitionKeys = 20;
            Work(first.Engine, now, users: 30, round: 0);
            int round = 1;
            first.CheckpointPartitionWritten = () => Work(first.Engine, now, users: 3, round: round++); // the log grows between partitions
            await first.CheckpointAsync();
            Assert.Null(first.Fault);
            Assert.True(round > 3, "the checkpoint wrote several partitions");
            first.CheckpointPartitionWritten = null;
            before = EngineState.Describe(first.Engine, now);
            await first.CloseWithoutCheckpointAsync();
        }

        await using var second = PersistentEngine.Open(Options(keysMax: 1024));
        Assert.Null(second.Recovery.Corruption);
        Assert.Equal(before, EngineState.Describe(second.Engine, now));
    }

    [Fact]
    public async Task ACleanStop_WithAShortLog_CommitsWithoutACheckpoint_AndLosesNothing()
    {
        long now = T0;
        string before;
        await using (var first = PersistentEngine.Open(Options()))
        {
            Work(first.Engine, now, users: 4, round: 0);
            before = EngineState.Describe(first.Engine, now);
        }

        await using var second = PersistentEngine.Open(Options());
        Assert.Equal(0, second.Recovery.SnapshotSequence); // the stop wrote no snapshot ...
        Assert.True(second.Recovery.RecordsReplayed > 0); // ... its log is replayed instead
        Assert.Equal(before, EngineState.Describe(second.Engine, now));
    }

    [Fact]
    public async Task ReservesAreServed_WhileACheckpointOf100kKeysRuns()
    {
        const int Keys = 100_000;
        var options = Options() with { Engine = new EngineOptions { KeysMax = Keys + 16, UsersMax = 1024, ReservationsMax = 1 << 16 } };
        await using var engine = PersistentEngine.Open(options);
        engine.CheckpointPartitionKeys = Keys / 4;
        long now = T0;
        int[] users = Enumerable.Range(0, 1000).Select(_ => engine.Engine.CreateUser(1_000_000_000).Id).ToArray();
        for (int i = 0; i < Keys; i++)
        {
            engine.Engine.CreateToken(new TokenSpec { UserId = users[i % users.Length], RemainQuotaUnits = 1_000_000, Policies = [Policy(1_000_000, anchorMs: now)] }, now);
        }

        // Mid-way through the checkpoint (after its first partition), reserves on other threads must complete: a
        // checkpoint that held anything a reserve needs (a key's lock, the log, the thread pool) makes this time out.
        var midway = new List<TimeSpan>();
        engine.CheckpointPartitionWritten = () =>
        {
            var watch = Stopwatch.StartNew();
            Task served = Task.Run(() => SpinWait.SpinUntil(() => ReserveAndSettle(engine.Engine, 1 + (midway.Count * 7919 % Keys), now)));
            Assert.True(served.Wait(TimeSpan.FromSeconds(10)), "a reserve waited on the checkpoint");
            midway.Add(watch.Elapsed);
        };

        using var stop = new CancellationTokenSource();
        long served = 0;
        TimeSpan slowest = TimeSpan.Zero;
        Task load = Task.Run(() =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                long started = Stopwatch.GetTimestamp();
                bool ok = ReserveAndSettle(engine.Engine, random.Next(1, Keys + 1), now);
                TimeSpan took = Stopwatch.GetElapsedTime(started);
                slowest = took > slowest ? took : slowest;
                served += ok ? 1 : 0;
                Thread.Sleep(0); // a request stream, not a flood faster than the log can take
            }
        });

        var checkpoint = Stopwatch.StartNew();
        await engine.CheckpointAsync();
        checkpoint.Stop();
        await stop.CancelAsync();
        await load;

        Assert.Null(engine.Fault);
        Assert.Equal(4, midway.Count);
        Assert.True(served > 100, $"only {served} reserves were served during a {checkpoint.Elapsed.TotalMilliseconds:F0} ms checkpoint");
        // Generous: a reserve takes well under a microsecond; a checkpoint that stopped the world took 0.6–2 s.
        Assert.True(slowest < TimeSpan.FromMilliseconds(500), $"the slowest reserve + settle during the checkpoint took {slowest.TotalMilliseconds:F0} ms");
    }

    /// <summary>A reserve and its settle; false when the log had no room for the reserve (a loop faster than the disk).</summary>
    private static bool ReserveAndSettle(QuotaEngine engine, int token, long now)
    {
        ReserveOutcome outcome = engine.Reserve(token, 3, now);
        if (outcome.Result == ReserveResult.LogFull)
        {
            return false;
        }

        Assert.Equal(ReserveResult.Ok, outcome.Result);
        Assert.Equal(FinishResult.Ok, engine.Settle(outcome.Id, 2, now).Result);
        return true;
    }
}
