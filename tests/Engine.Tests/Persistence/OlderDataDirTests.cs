using Microsoft.Extensions.Time.Testing;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// A data dir written by the release before leases (delta records of format 3, a snapshot of format 3, under
/// Persistence/Fixtures/datadir-v3) opens with every number it held, and keeps working: the readers of older formats
/// stay (docs/operations.md "Upgrade"). The fixture was written once by that release, at 2026-06-27T01:15Z: user 1
/// (100,000) with key 1 (budget 50,000; a strict daily window of 10,000 and a daily requests window of 100), a pair
/// settled at 500, an open reservation of 300, a refunded one, a snapshot; then a pair settled at 900, user 2 (5,000)
/// with key 2 (budget 4,000; a 5-hour window of 2,000) and an open reservation of 100, in the log after the snapshot.
/// </summary>
public sealed class OlderDataDirTests : IDisposable
{
    private static readonly DateTimeOffset WrittenAt = DateTimeOffset.Parse("2026-06-27T01:15:00Z", System.Globalization.CultureInfo.InvariantCulture);
    private static readonly ReservationId OpenOfKey1 = new(562949953421313), OpenOfKey2 = new(562949953421377); // as the writer printed them
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    [Fact]
    public async Task AFormat3DataDir_RecoversEveryNumber_AndServes()
    {
        CopyFixture("datadir-v3");
        var time = new FakeTimeProvider(WrittenAt);
        long now = WrittenAt.ToUnixTimeMilliseconds();

        await using var opened = PersistentEngine.Open(Options(), time);
        QuotaEngine engine = opened.Engine;

        Assert.Null(opened.Recovery.Corruption);
        Assert.True(opened.Recovery.SnapshotSequence > 0 && opened.Recovery.RecordsReplayed > 0, "the fixture has a snapshot and records after it");
        Assert.Equal(new UserView(1, 100_000 - 1_400, 1_400, 300), engine.ReadUser(1));
        Assert.Equal(new UserView(2, 5_000, 0, 100), engine.ReadUser(2));
        TokenView key1 = engine.ReadToken(1, now)!;
        Assert.Equal((50_000 - 1_400, 1_400L, 300L), (key1.RemainQuotaUnits, key1.UsedQuotaUnits, key1.ReservedQuotaUnits));
        Assert.Equal((1_400L, 300L), (key1.Policies[0].UsedQuotaUnits, key1.Policies[0].ReservedQuotaUnits));
        Assert.Equal((2L, 1L), (key1.Policies[1].UsedQuotaUnits, key1.Policies[1].ReservedQuotaUnits));
        TokenView key2 = engine.ReadToken(2, now)!;
        Assert.Equal((0L, 100L), (key2.Policies[0].UsedQuotaUnits, key2.Policies[0].ReservedQuotaUnits));

        // The open reservations are still open and finish; new requests are admitted by the recovered counters.
        Assert.True(engine.TryReadReservation(OpenOfKey1, out ReservationView open));
        Assert.Equal((1, 300L, ReservationStatus.Open), (open.TokenId, open.AmountUnits, open.Status));
        Assert.Equal(FinishResult.Ok, engine.Settle(OpenOfKey1, 300, now).Result);
        Assert.Equal(FinishResult.Ok, engine.Refund(OpenOfKey2, now).Result);
        ReserveOutcome strict = engine.Reserve(1, 10_000 - 1_700 + 1, now);
        Assert.Equal(ReserveResult.PolicyEstimateTooLarge, strict.Result);
        Assert.True(engine.Reserve(1, 10_000 - 1_700, now).IsOk);
    }

    private PersistenceOptions Options() => new()
    {
        DataDir = directory.Path,
        Durability = Durability.WriteBehind,
        CheckpointInterval = TimeSpan.FromHours(1),
        TickInterval = TimeSpan.FromMinutes(1),
        Engine = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 1024 },
    };

    private void CopyFixture(string name)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Persistence", "Fixtures", name);
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(directory.Path, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
