using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using Quota.Engine.Windows;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests;

/// <summary>
/// The defects an independent review found in the books (races, torn saves, recycled ids, wrapped generations), each
/// pinned by a test that failed before its fix: real threads, a deterministic interleaving through a race hook where
/// the window is too narrow to hit by chance, or a replay of every prefix of a recorded log.
/// </summary>
public sealed class ExactnessTests
{
    private readonly TestEngine t = new();

    [Fact]
    public void SettingABudget_UnderConcurrentReserveAndRefund_SetsExactlyThatBudget()
    {
        int token = t.Token(t.User(1L << 40), 1_000_000);
        using var stop = new CancellationTokenSource();
        var traffic = new Thread(() =>
        {
            var random = new Random(3);
            while (!stop.IsCancellationRequested)
            {
                ReserveOutcome r = t.Engine.Reserve(token, random.Next(1, 5_000), t.NowMs);
                if (r.IsOk)
                {
                    t.Engine.Refund(r.Id, t.NowMs); // reserve and refund never change the budget
                }
            }
        });
        traffic.Start();
        try
        {
            for (long target = 500_000; target < 502_000; target++)
            {
                Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = target }, t.NowMs).IsOk);
                Assert.Equal(target, t.Read(token).RemainQuotaUnits);
            }
        }
        finally
        {
            stop.Cancel();
            traffic.Join();
        }
    }

    [Fact]
    public void DeletingAKey_UnderLoadOnAnotherKey_NeverTouchesItsReservations()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 4096, UsersMax = 8, ReservationsMax = 4096 });
        int user = t.User(1L << 40);
        int busy = t.Token(user, 1L << 40);
        using var stop = new CancellationTokenSource();
        int wrongReplies = 0;
        var traffic = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                ReserveOutcome r = t.Engine.Reserve(busy, 7, t.NowMs);
                if (r.IsOk && t.Engine.Settle(r.Id, 7, t.NowMs).Result != FinishResult.Ok)
                {
                    Interlocked.Increment(ref wrongReplies);
                }
            }
        });
        traffic.Start();
        for (int i = 0; i < 2_000; i++)
        {
            int doomed = t.Token(user, 1000);
            ReservationId open = t.ReserveOk(doomed, 3);
            Assert.Equal(SpecError.None, t.Engine.DeleteToken(doomed, t.NowMs));
            Assert.Equal(FinishResult.Ok, t.Settle(open, 3).Result); // still open after the delete: the work was done
        }

        stop.Cancel();
        traffic.Join();
        Assert.Equal(0, wrongReplies);
        Assert.Empty(ConservationAudit.Check(t.Engine));
    }

    [Fact]
    public void ASave_IsOneRecord_SoEveryLogPrefixPlusTheOperatorsRetry_NeverAppliesItTwice()
    {
        var sink = new RecordingSink();
        var live = new TestEngine(deltas: sink);
        int user = live.User(1L << 30);
        int token = live.Token(user, 1000, Policy(1000, boundary: BoundaryMode.Strict));
        var raise = new TokenUpdate { RemainQuotaUnits = 5000, Policies = [Policy(2000, boundary: BoundaryMode.Strict)] };
        Assert.True(live.Engine.UpdateToken(token, raise, live.NowMs).IsOk);

        IReadOnlyList<(DeltaRecord Record, byte[]? Payload)> records = sink.Records;
        Assert.Equal(DeltaKind.TokenSave, records[^1].Record.Kind); // the whole update is its last record
        for (int prefix = 0; prefix <= records.Count; prefix++)
        {
            var replica = new QuotaEngine(live.Options);
            foreach ((DeltaRecord record, byte[]? payload) in records.Take(prefix))
            {
                replica.Apply(record, payload);
            }

            if (replica.ReadToken(token, live.NowMs) is null)
            {
                continue; // the create is not in this prefix: no key at all, never half of one
            }

            Assert.True(replica.UpdateToken(token, raise, live.NowMs).IsOk); // the operator retries after the crash
            long admitted = 0;
            while (replica.Reserve(token, 100, live.NowMs).IsOk)
            {
                admitted += 100;
            }

            Assert.Equal(2000, admitted);
            Assert.Equal(5000, replica.ReadToken(token, live.NowMs)!.RemainQuotaUnits);
        }
    }

    [Fact]
    public void ReservationIds_AfterARestartThatLostRecords_AreNeverIssuedAgain()
    {
        var sink = new RecordingSink();
        var first = new TestEngine(deltas: sink);
        int token = first.Token(first.User(), 1000);
        int kept = sink.Records.Count;
        ReservationId[] issued = [.. Enumerable.Range(0, 5).Select(_ => first.ReserveOk(token, 1))];

        // The crash loses the records of every reservation: recovery sees only the key.
        var recovered = new QuotaEngine(first.Options);
        foreach ((DeltaRecord record, byte[]? payload) in sink.Records.Take(kept))
        {
            recovered.Apply(record, payload);
        }

        recovered.StartRun(recovered.Reservations.Epoch + 1);
        ReservationId[] reissued = [.. Enumerable.Range(0, 5).Select(_ => recovered.Reserve(token, 1, first.NowMs).Id)];

        Assert.Empty(issued.Intersect(reissued));
        Assert.Equal(FinishResult.NotFound, recovered.Settle(issued[0], 1, first.NowMs).Result); // the lost one is unknown
    }

    [Fact]
    public void AThreadResumingAStaleClaimBlock_NeverRecyclesARecordFinishedMomentsAgo()
    {
        int token = t.Token(t.User(1L << 40), 1L << 40);
        using var idle = new ThreadWorker();
        using var busy = new ThreadWorker();
        idle.Run(() => t.Settle(t.ReserveOk(token, 1), 1)); // takes a block of claim positions, uses one, goes idle
        ReservationId recent = default;
        busy.Run(() =>
        {
            for (int i = 0; i < t.Options.ReservationsMax + 1; i++)
            {
                recent = t.ReserveOk(token, 1);
                t.Settle(recent, 1);
            }
        });
        ReservationId[] fresh = new ReservationId[64];
        busy.Run(() =>
        {
            for (int i = 0; i < fresh.Length; i++)
            {
                fresh[i] = t.ReserveOk(token, 1);
                t.Settle(fresh[i], 1);
            }
        });

        idle.Run(() =>
        {
            for (int i = 0; i < 64; i++)
            {
                t.Settle(t.ReserveOk(token, 1), 1); // must not take the records busy finished moments ago
            }
        });

        foreach (ReservationId id in fresh)
        {
            Assert.Equal(new FinishOutcome(FinishResult.Ok, 1, false, true), t.Settle(id, 1)); // a retried settle still answers
        }
    }

    [Fact]
    public void ARunOfOpenReservationsAtTheCursor_DoesNotMakeANearlyEmptyTableLookFull()
    {
        int token = t.Token(t.User(1L << 40), 1L << 40);
        ReservationId[] held = [.. Enumerable.Range(0, 64).Select(_ => t.ReserveOk(token, 1))]; // 64 records open in claim order
        for (int i = 0; i < t.Options.ReservationsMax - 64; i++)
        {
            t.Settle(t.ReserveOk(token, 1), 1);
        }

        Assert.Equal(ReserveResult.Ok, t.Reserve(token, 1).Result); // the cursor is back at the 64 open records
        Assert.All(held, id => Assert.Equal(FinishResult.Ok, t.Refund(id).Result));
    }

    [Fact]
    public void SavingADisabledPolicyAgain_NeverRestartsItsWindow()
    {
        int token = t.Token(t.User(), 1000, Policy(100) with { Enabled = false });
        ushort generation = t.Engine.FindKey(token)!.Slots![0]!.Cell.Generation;
        for (int i = 0; i < 70_000; i++)
        {
            Assert.True(t.Engine.UpdateToken(token, new TokenUpdate { Policies = [Policy(100) with { Enabled = false }] }, t.NowMs).IsOk);
        }

        Assert.Equal(generation, t.Engine.FindKey(token)!.Slots![0]!.Cell.Generation);
    }

    [Fact]
    public void RestartingAWindowSoOftenThatAHeldGenerationWouldComeRound_IsRefused_AndTheBooksStayExact()
    {
        int token = t.Token(t.User(1L << 40), 1L << 40, Policy(1000, boundary: BoundaryMode.Strict));
        ReservationId old = t.ReserveOk(token, 600); // held in the first window
        var on = new TokenUpdate { Policies = [Policy(1000, boundary: BoundaryMode.Strict)] };
        var off = new TokenUpdate { Policies = [Policy(1000, boundary: BoundaryMode.Strict) with { Enabled = false }] };
        SaveOutcome refused = default;
        for (int i = 0; i < 70_000; i++)
        {
            SaveOutcome outcome = t.Engine.UpdateToken(token, i % 2 == 0 ? off : on, t.NowMs);
            if (!outcome.IsOk)
            {
                refused = outcome;
                break;
            }
        }

        Assert.Equal(new SaveOutcome(SpecError.PolicyRestartedTooOften, token, 0), refused);
        t.Refund(old); // a stale refund: it must not touch whichever window is current
        Assert.Empty(ConservationAudit.Check(t.Engine));
        Assert.Equal(0, t.Policy0(token).ReservedQuotaUnits);
        Assert.True(t.Engine.UpdateToken(token, on, t.NowMs).IsOk); // nothing held any more: restarts go on
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, t.Reserve(token, 1001).Result);
        Assert.Equal(ReserveResult.Ok, t.Reserve(token, 1000).Result);
    }

    [Fact]
    public void ASettleRightAfterAWindowIsPublished_MarksItsExhaustion()
    {
        int token = t.Token(t.User(), 10_000, Policy(100));
        t.Settle(t.ReserveOk(token, 1), 100); // window 1 exhausted and marked
        t.Advance(TimeSpan.FromHours(5));
        long exhaustedAt = 0;
        using (RaceHook.At(RaceHooks.Point.WindowStartPublished, () =>
        {
            t.Settle(t.ReserveOk(token, 1), 100); // the new window runs out the moment it is published
            exhaustedAt = t.NowMs;
        }))
        {
            t.Engine.RollDueWindows(t.NowMs);
        }

        Assert.Equal(exhaustedAt, t.Policy0(token).ExhaustedAtMs);
    }

    [Fact]
    public void ATopUp_IsLoggedBeforeAReserveCanSpendIt_SoNoLogPrefixHoldsTheSpendWithoutTheTopUp()
    {
        var sink = new RecordingSink();
        var live = new TestEngine(deltas: sink);
        int user = live.User(0);
        int token = live.Token(user, 1_000);
        ReserveOutcome spent = default;
        using (RaceHook.At(RaceHooks.Point.WalletChanged, () => spent = live.Engine.Reserve(token, 100, live.NowMs)))
        {
            Assert.Equal(SpecError.None, live.Engine.CreditUser(user, 100));
        }

        // Between the change and its record, the 100 units must not be admissible: a reserve of them would be logged
        // first, and a crash between the two records would replay a spend of units the wallet never had.
        Assert.Equal(ReserveResult.InsufficientUserQuota, spent.Result);
        Assert.DoesNotContain(sink.Records, r => r.Record.Kind == DeltaKind.Reserve);
        Assert.True(live.Engine.Reserve(token, 100, live.NowMs).IsOk); // logged: now it is there
    }

    [Fact]
    public void ACreateThatFails_TakesNoIdAndLeavesNothingForReplay()
    {
        var sink = new RecordingSink();
        var live = new TestEngine(deltas: sink);
        int user = live.User();
        int records = sink.Records.Count;
        SaveOutcome failed = live.Engine.CreateToken(new TokenSpec { UserId = user, Policies = [Policy(100, anchorMs: 253_402_300_000_000)] }, live.NowMs);

        Assert.Equal(new SaveOutcome(SpecError.PolicyAnchorInvalid, 0, 0), failed);
        Assert.Equal(records, sink.Records.Count);
        Assert.Equal(1, live.Token(user));
        Assert.Null(sink.Replay(live.Options).ReadToken(2, live.NowMs));
    }

    [Fact]
    public void AnUpdateThatFailsLate_ChangesNothing_InMemoryOrInTheLog()
    {
        var sink = new RecordingSink();
        var live = new TestEngine(deltas: sink);
        int token = live.Token(live.User(), 1000, Policy(100));
        int records = sink.Records.Count;
        SaveOutcome failed = live.Engine.UpdateToken(token, new TokenUpdate
        {
            RemainQuotaUnits = 5,
            Policies = [Policy(100), Policy(100, anchorMs: 1)],
        }, live.NowMs);

        Assert.Equal(new SaveOutcome(SpecError.PolicyAnchorInvalid, token, 1), failed);
        Assert.Equal(1000, live.Read(token).RemainQuotaUnits);
        Assert.Equal(records, sink.Records.Count);
    }

    [Fact]
    public void WhenTheLogHasNoRoom_SavesAreRefusedWithoutTakingAnId()
    {
        var full = new RoomlessSink();
        var live = new TestEngine(deltas: full);
        full.Room = false;
        Assert.Equal(SpecError.LogFull, live.Engine.CreateUser(1).Error);
        full.Room = true;
        int user = live.User();
        full.Room = false;
        Assert.Equal(new SaveOutcome(SpecError.LogFull, 0, -1), live.Engine.CreateToken(new TokenSpec { UserId = user }, live.NowMs));
        full.Room = true;
        Assert.Equal(1, live.Token(user));
    }

    /// <summary>A log that promises room only while <see cref="Room"/> is set.</summary>
    private sealed class RoomlessSink : IDeltaSink
    {
        public volatile bool Room = true;

        public bool HasCapacity => Room;

        public bool TryPromise(int records) => Room;

        public void EndPromise(int records)
        {
        }

        public void Append(in DeltaRecord record)
        {
        }

        public void Append(in DeltaRecord record, byte[] payload)
        {
        }
    }
}
