using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// A crash between a threshold crossing and the host's durable outbox loses no alert: the start-up recovery emits the
/// crossings of the records it replays again, and a checkpoint makes the sink's events durable before its snapshot
/// ends that replay (docs/alerts.md "Crashes"). Real FASTER log and LiteDB file; a "crash" is a close right after a
/// commit, with nothing else flushed.
/// </summary>
public sealed class AlertRecoveryTests : IDisposable
{
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    private PersistenceOptions Options() => new()
    {
        DataDir = directory.Path,
        CheckpointInterval = TimeSpan.FromHours(1),
        TickInterval = TimeSpan.FromMinutes(1),
        Engine = new EngineOptions { KeysMax = 16, UsersMax = 8, ReservationsMax = 256, AlertThresholdsPercent = [80] },
    };

    private static (int TokenId, int UserId, int PolicyIndex, long WindowStartMs, int Percent)[] Crossings(AuditLog sink) =>
        [.. sink.Events.Where(e => e.Action == AuditAction.ThresholdReached)
            .Select(e => (e.TokenId, e.UserId, e.PolicyIndex, e.NewPeriodStartMs, e.ThresholdPercent))
            .Order()];

    /// <summary>A user whose wallet alerts are of <paramref name="baseUnits"/> since <paramref name="sinceMs"/>, as the host keeps it.</summary>
    private static int UserWithWalletBase(PersistentEngine engine, long baseUnits, long sinceMs)
    {
        int user = engine.Engine.CreateUser(baseUnits).Id;
        engine.Store.UpsertUser(new UserDocument { Id = user, Name = "alerted", AlertBaseUnits = baseUnits, AlertSinceMs = sinceMs });
        engine.Engine.SetWalletAlertBase(user, baseUnits, sinceMs);
        return user;
    }

    private static void Charge(QuotaEngine engine, int token, long amount)
    {
        ReserveOutcome r = engine.Reserve(token, amount, engine.NowMs);
        Assert.True(r.IsOk, r.Result.ToString());
        Assert.Equal(FinishResult.Ok, engine.Settle(r.Id, amount, engine.NowMs).Result);
    }

    [Fact]
    public async Task ACrossingTheCrashLostOnItsWay_IsEmittedAgainAtStart_UntilACheckpointHasMadeItDurable()
    {
        var live = new AuditLog();
        PersistentEngine first = PersistentEngine.Open(Options(), audit: live);
        int user = UserWithWalletBase(first, 100, first.Engine.NowMs - 1);
        int token = first.Engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1_000, Policies = [Policy(100)] }, first.Engine.NowMs).Id;
        Charge(first.Engine, token, 85); // 85 of the policy's 100 and of the wallet's 100: both cross 80 %
        var crossed = Crossings(live);
        Assert.Equal(2, crossed.Length);
        await first.CloseWithoutCheckpointAsync(); // the record is committed; the host's queue is gone with the process

        var afterCrash = new AuditLog();
        PersistentEngine second = PersistentEngine.Open(Options(), audit: afterCrash);
        Assert.Equal(crossed, Crossings(afterCrash)); // the same accounts, windows and thresholds: the same idempotency ids
        Assert.Equal(0, afterCrash.Checkpoints);
        await second.CheckpointAsync();
        Assert.Equal(1, afterCrash.Checkpoints); // asked before the snapshot was stored
        await second.CloseWithoutCheckpointAsync();

        var afterSnapshot = new AuditLog();
        await using PersistentEngine third = PersistentEngine.Open(Options(), audit: afterSnapshot);
        Assert.Empty(Crossings(afterSnapshot)); // the snapshot covers the record: nothing to emit again
        Assert.Equal(85, third.Engine.ReadToken(token, third.Engine.NowMs)!.Policies[0].UsedQuotaUnits);
    }

    [Fact]
    public async Task AWalletCrossingOfAnOlderTopUp_IsNotEmittedAgainAsIfOfTheNewOne()
    {
        PersistentEngine first = PersistentEngine.Open(Options(), audit: new AuditLog());
        int user = UserWithWalletBase(first, 300, first.Engine.NowMs - 1);
        int token = first.Engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1_000 }, first.Engine.NowMs).Id;
        Charge(first.Engine, token, 250); // 300 → 50: crosses 80 % of the base of 300
        first.Engine.CreditUser(user, 1_000);
        long rebasedAt = first.Engine.NowMs + 1; // the host rebases after the top-up is applied
        first.Store.UpsertUser(new UserDocument { Id = user, Name = "alerted", AlertBaseUnits = 1_050, AlertSinceMs = rebasedAt });
        await first.CloseWithoutCheckpointAsync();

        var afterCrash = new AuditLog();
        await using PersistentEngine second = PersistentEngine.Open(Options(), audit: afterCrash);
        // Replayed against the new base of 1,050 the old settle (balance 300 → 50) would read as spend 750 → 1,000, across
        // 80 % of 1,050 (840): a false alert under the new top-up's id. It belongs to the old base: silent.
        Assert.Empty(Crossings(afterCrash));
        Assert.Equal(1_050, second.Engine.ReadUser(user)!.QuotaUnits);
    }
}
