using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// Invariant 9: a settle, refund or expiry never waits for the log and is never refused for lack of room — also when
/// the log device stalls and the ring fills up, and also for a settle that exhausts four windows and pauses its key.
/// Everything else that appends asks for room first and is refused (nothing changed) when there is none.
/// </summary>
public sealed class LogRoomTests
{
    [Fact]
    public async Task WithTheDeviceStalled_FinishesNeverWait_AndColdOperationsAreRefusedCleanly()
    {
        var device = new StalledLog();
        var writer = new DeltaLogWriter(device, reservationsMax: 64, firstSequence: 1, TimeSpan.FromMilliseconds(1));
        writer.Start();
        var t = new TestEngine(options: new EngineOptions { KeysMax = 128, UsersMax = 8, ReservationsMax = 64 }, deltas: writer);
        int user = t.User(1L << 40);
        QuotaPolicySpec Strict(int i) => Policy(10, boundary: BoundaryMode.Strict, action: ExhaustedAction.DisableToken, anchorMs: T0 + i);
        int[] keys = [.. Enumerable.Range(0, 63).Select(_ => t.Token(user, 1L << 40, Strict(0), Strict(1), Strict(2), Strict(3)))];
        int filler = t.Token(user, 1L << 40);
        ReservationId[] open = [.. keys.Select(key => t.ReserveOk(key, 10))];

        device.Stalled = true;
        while (t.Reserve(filler, 1) is { IsOk: true } r)
        {
            t.Settle(r.Id, 1); // the ring fills up to the point where reserves stop
        }

        Assert.Equal(ReserveResult.LogFull, t.Reserve(filler, 1).Result);
        foreach (ReservationId id in open)
        {
            Assert.Equal(new FinishOutcome(FinishResult.Ok, 10, true, false), t.Settle(id, 10)); // four marks and a pause: one record
        }

        Assert.All(keys, key => Assert.True(t.Read(key).Paused));
        Assert.Equal(0, writer.RingFullCount);

        int credits = 0;
        while (t.Engine.CreditUser(user, 1) == SpecError.None)
        {
            credits++; // cold records use the room kept for them, and no more
        }

        Assert.InRange(credits, 1, DeltaLogWriter.ColdRoom + DeltaLogWriter.ReserveSlack);
        long balance = t.Engine.ReadUser(user)!.QuotaUnits;
        Assert.Equal(SpecError.LogFull, t.Engine.CreditUser(user, 1));
        Assert.Equal(new SaveOutcome(SpecError.LogFull, keys[0], -1), t.Engine.UpdateToken(keys[0], new TokenUpdate { RemainQuotaUnits = 5 }, t.NowMs));
        Assert.Equal(SpecError.LogFull, t.Engine.ResetPolicies(keys[0], -1, t.NowMs));
        Assert.Equal(SpecError.LogFull, t.Engine.DeleteToken(keys[0], t.NowMs));
        Assert.Equal(balance, t.Engine.ReadUser(user)!.QuotaUnits);
        Assert.True(t.Read(keys[0]).Paused);
        Assert.Equal(0, writer.RingFullCount);

        device.Stalled = false;
        await writer.StopAsync();
        Assert.Equal(writer.AppendedThrough, writer.CommittedThrough);
        await writer.DisposeAsync();
    }

    /// <summary>A log device that accepts nothing while stalled (its memory full, its disk not keeping up).</summary>
    private sealed class StalledLog : IDeltaLog
    {
        public volatile bool Stalled;
        private long tail;

        public long BeginAddress => 0;

        public long TailAddress => Interlocked.Read(ref tail);

        public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address)
        {
            address = TailAddress;
            if (Stalled)
            {
                Thread.Yield();
                return false;
            }

            Interlocked.Add(ref tail, entry.Length);
            return true;
        }

        public void Commit()
        {
        }

        public IEnumerable<LogEntry> Scan(long fromAddress) => [];

        public void TruncateUntil(long address)
        {
        }

        public void Dispose()
        {
        }
    }
}
