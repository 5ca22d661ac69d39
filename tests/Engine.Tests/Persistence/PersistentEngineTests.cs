using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>Restart equality, checkpoints, corruption and device faults, on a real FASTER log and a real LiteDB file.</summary>
public sealed class PersistentEngineTests : IDisposable
{
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    private PersistenceOptions Options(Durability durability = Durability.WriteBehind) => new()
    {
        DataDir = directory.Path,
        Durability = durability,
        CheckpointInterval = TimeSpan.FromHours(1),
        TickInterval = TimeSpan.FromMinutes(1), // these tests use a fixed clock: keep the real-clock expiry loop out of them
        Engine = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 1024 },
    };

    /// <summary>A bit of everything: wallets, budgets, several policies, pauses, resets, open and finished reservations.</summary>
    private static List<ReservationId> Workload(QuotaEngine engine, long now, int round)
    {
        int user = engine.CreateUser(100_000).Id;
        int token = engine.CreateToken(new TokenSpec
        {
            UserId = user,
            RemainQuotaUnits = 50_000,
            Policies = [Policy(300, action: ExhaustedAction.DisableToken, anchorMs: now), Policy(2_000, PeriodMode.Monthly, BoundaryMode.Strict, anchorMs: now, timeZone: "America/New_York")],
        }, now).Id;
        var open = new List<ReservationId>();
        for (int i = 0; i < 20; i++)
        {
            ReserveOutcome r = engine.Reserve(token, 10 + i + round, now);
            if (!r.IsOk)
            {
                continue;
            }

            switch (i % 4)
            {
                case 0: engine.Settle(r.Id, 25, now); break;
                case 1: engine.Refund(r.Id, now); break;
                case 2: open.Add(r.Id); break;
                default: engine.Settle(r.Id, 5, now); break;
            }
        }

        engine.ResetPolicies(token, 1, now);
        engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = 40_000 + round }, now);
        engine.Settle(engine.Reserve(token, 200, now).Id, 400, now); // exhausts and pauses the 5 h policy
        engine.CreditUser(user, 1234);
        return open;
    }

    [Fact]
    public async Task ALogOfAnotherFormatVersion_StopsTheStart_AndChangesNothing()
    {
        await using (var first = PersistentEngine.Open(Options()))
        {
            first.Engine.CreateUser(1234);
            await first.CloseWithoutCheckpointAsync();
        }

        var error = Assert.Throws<InvalidDataException>(() => PersistentEngine.Open(Options(), openLog: dir => new OlderFormatLog(new FasterDeltaLog(dir))));
        Assert.Contains("format version 1", error.Message, StringComparison.Ordinal);

        await using var again = PersistentEngine.Open(Options()); // the directory was left as it was
        Assert.Null(again.Recovery.Corruption);
        Assert.Equal(1234, again.Engine.ReadUser(1)!.QuotaUnits);
    }

    /// <summary>Reads the log as if its first record had been written by format version 1 (intact, checksum and all).</summary>
    private sealed class OlderFormatLog(IDeltaLog inner) : IDeltaLog
    {
        public long BeginAddress => inner.BeginAddress;

        public long TailAddress => inner.TailAddress;

        public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address) => inner.TryEnqueue(entry, out address);

        public void Commit() => inner.Commit();

        public IEnumerable<LogEntry> Scan(long fromAddress)
        {
            foreach (LogEntry entry in inner.Scan(fromAddress))
            {
                byte[] bytes = entry.Bytes.ToArray();
                bytes[0] = 1;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), DeltaRecordCodec.HeadChecksum(bytes.AsSpan(0, DeltaRecordCodec.RecordBytes)));
                yield return entry with { Bytes = bytes };
            }
        }

        public void TruncateUntil(long address) => inner.TruncateUntil(address);

        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public async Task EveryStart_TakesANewEpochDurably_SoIdsOfDifferentRunsNeverCollide()
    {
        var ids = new List<ReservationId>();
        for (int run = 0; run < 3; run++)
        {
            await using var engine = PersistentEngine.Open(Options());
            if (run == 0)
            {
                int user = engine.Engine.CreateUser(1000).Id;
                engine.Engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1000 }, T0);
            }

            ids.Add(engine.Engine.Reserve(1, 1, T0).Id);
            await engine.CloseWithoutCheckpointAsync();
        }

        Assert.Equal([2, 3, 4], ids.Select(id => (int)((ulong)id.Value >> 48)));
        Assert.Equal(3, ids.Distinct().Count());
    }

    [Fact]
    public async Task Restart_AfterACleanStop_RestoresEveryCounterReservationAndWindow()
    {
        long now = T0;
        string before;
        List<ReservationId> open;
        await using (var first = PersistentEngine.Open(Options()))
        {
            open = Workload(first.Engine, now, 0);
            before = EngineState.Describe(first.Engine, now);
        }

        await using var second = PersistentEngine.Open(Options());
        Assert.Null(second.Recovery.Corruption);
        Assert.Equal(before, EngineState.Describe(second.Engine, now));

        // Open reservations survive and still finish, or expire on time.
        Assert.Equal(FinishResult.Ok, second.Engine.Settle(open[0], 7, now).Result);
        Assert.Equal(open.Count - 1, second.Engine.ExpireDue(now + (long)Options().Engine.ReservationTtl.TotalMilliseconds));
    }

    [Fact]
    public async Task Restart_FromASnapshotPlusTheLogAfterIt_IsExact()
    {
        long now = T0;
        await using (var first = PersistentEngine.Open(Options()))
        {
            Workload(first.Engine, now, 0);
            await first.CheckpointAsync();
            Workload(first.Engine, now, 1);
            string before = EngineState.Describe(first.Engine, now);
            await first.CloseWithoutCheckpointAsync();

            await using var second = PersistentEngine.Open(Options());
            Assert.True(second.Recovery.SnapshotSequence > 0, "recovery started from the snapshot");
            Assert.True(second.Recovery.RecordsReplayed > 0, "and replayed the log after it");
            Assert.Equal(before, EngineState.Describe(second.Engine, now));
        }
    }

    [Fact]
    public async Task RepeatedRestarts_WithNewWorkEachTime_LoseNothing()
    {
        long now = T0;
        for (int round = 0; round < 3; round++)
        {
            string before;
            await using (var engine = PersistentEngine.Open(Options()))
            {
                Workload(engine.Engine, now, round);
                before = EngineState.Describe(engine.Engine, now);
                if (round == 1)
                {
                    await engine.CloseWithoutCheckpointAsync();
                    continue;
                }
            }

            await using var check = PersistentEngine.Open(Options());
            Assert.Equal(before, EngineState.Describe(check.Engine, now));
            now += 3_600_000;
        }
    }

    [Fact]
    public async Task ACorruptLog_IsReportedWithItsAddress_RecoveryKeepsTheGoodPrefix_AndLaterWritesSurvive()
    {
        long now = T0;
        long appended;
        await using (var first = PersistentEngine.Open(Options()))
        {
            Workload(first.Engine, now, 0);
            appended = first.Writer.AppendedThrough;
            await first.CloseWithoutCheckpointAsync();
        }

        string segment = Directory.GetFiles(Path.Combine(directory.Path, "log"), "delta.log*").OrderBy(f => f).First();
        byte[] bytes = await File.ReadAllBytesAsync(segment);
        bytes[bytes.Length / 2] ^= 0x5A; // a bit flip in the middle of the committed log
        await File.WriteAllBytesAsync(segment, bytes);

        string afterCorruption;
        await using (var second = PersistentEngine.Open(Options()))
        {
            Assert.NotNull(second.Recovery.Corruption);
            Assert.Contains("address", second.Recovery.Corruption, StringComparison.Ordinal);
            Assert.True(second.Recovery.LastSequence < appended, "the records after the damage are not applied");
            Assert.Empty(Diagnostics.ConservationAudit.Check(second.Engine));
            Workload(second.Engine, now, 1);
            afterCorruption = EngineState.Describe(second.Engine, now);
            await second.CloseWithoutCheckpointAsync();
        }

        await using var third = PersistentEngine.Open(Options());
        Assert.Null(third.Recovery.Corruption);
        Assert.Equal(afterCorruption, EngineState.Describe(third.Engine, now));
    }

    [Fact]
    public async Task AFailingLogDevice_MakesTheEngineUnhealthy_RefusesNewWork_AndNeverAcknowledgesUncommittedChanges()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(); // the engine's background expiry runs on the real clock
        FaultyDeltaLog? faulty = null;
        ReservationId acknowledged;
        await using (var engine = PersistentEngine.Open(Options(Durability.Durable), openLog: d => faulty = new FaultyDeltaLog(new FasterDeltaLog(d))))
        {
            int token = engine.Engine.CreateToken(new TokenSpec { UserId = engine.Engine.CreateUser(1000).Id, RemainQuotaUnits = 1000 }, now).Id;
            acknowledged = engine.Engine.Reserve(token, 10, now).Id;
            await engine.AcknowledgeAsync();

            faulty!.FailCommits = true;
            ReservationId pending = engine.Engine.Reserve(token, 20, now).Id;
            ValueTask acknowledgement = engine.AcknowledgeAsync();
            await engine.Writer.FlushAsync();

            Assert.Contains("injected", engine.Fault, StringComparison.Ordinal);
            Assert.False(acknowledgement.IsCompleted, "a change is not acknowledged before a commit holds it");
            Assert.Equal(ReserveResult.LogFull, engine.Engine.Reserve(token, 1, now).Result);
            Assert.Equal(FinishResult.Ok, engine.Engine.Refund(pending, now).Result); // in-flight work still finishes

            faulty.FailCommits = false;
            await engine.Writer.FlushAsync();
            await acknowledgement;
            Assert.Null(engine.Fault);
            Assert.True(engine.Engine.Reserve(token, 1, now).IsOk);
        }

        await using var reopened = PersistentEngine.Open(Options());
        Assert.Equal(FinishResult.Ok, reopened.Engine.Settle(acknowledged, 10, now).Result);
    }
}
