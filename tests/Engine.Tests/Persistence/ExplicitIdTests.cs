using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// Users and keys created with ids chosen by the caller (cluster mode: the shared store allocates them): gaps are
/// allowed, a taken or out-of-range id is refused and changes nothing, and a restart (log replay or snapshot) keeps them.
/// </summary>
public sealed class ExplicitIdTests : IDisposable
{
    private readonly TempDirectory directory = new();

    public void Dispose() => directory.Dispose();

    private PersistenceOptions Options() => new()
    {
        DataDir = directory.Path,
        CheckpointInterval = TimeSpan.FromHours(1),
        TickInterval = TimeSpan.FromMinutes(1),
        Engine = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 1024 },
    };

    [Fact]
    public void ExplicitIds_MayLeaveGaps_AndATakenOrOutOfRangeIdIsRefused()
    {
        var engine = new QuotaEngine(new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 64 });
        Assert.Equal(5, engine.CreateUser(100, userId: 5).Id);
        Assert.Equal(SpecError.IdTaken, engine.CreateUser(100, userId: 5).Error);
        Assert.Equal(SpecError.IdTaken, engine.CreateUser(100, userId: 9).Error); // beyond UsersMax
        Assert.Equal(SpecError.IdTaken, engine.CreateUser(100, userId: -1).Error);
        Assert.Equal(6, engine.CreateUser(100).Id); // dense ids continue after the largest

        var spec = new TokenSpec { UserId = 5, RemainQuotaUnits = 50, Policies = [Policy(30, anchorMs: T0)] };
        Assert.Equal(40, engine.CreateToken(spec, T0, tokenId: 40).Id);
        Assert.Equal(SpecError.IdTaken, engine.CreateToken(spec, T0, tokenId: 40).Error);
        Assert.Equal(SpecError.IdTaken, engine.CreateToken(spec, T0, tokenId: 65).Error);
        Assert.Null(engine.ReadToken(3, T0));
        Assert.True(engine.Reserve(40, 10, T0).IsOk);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ExplicitIds_SurviveARestart_FromTheLogOrASnapshot(bool snapshot)
    {
        string before;
        await using (var first = PersistentEngine.Open(Options()))
        {
            first.Engine.CreateUser(1_000, userId: 3);
            first.Engine.CreateToken(new TokenSpec { UserId = 3, RemainQuotaUnits = 500, Policies = [Policy(100, anchorMs: T0)] }, T0, tokenId: 17);
            first.Engine.Settle(first.Engine.Reserve(17, 40, T0).Id, 30, T0);
            before = EngineState.Describe(first.Engine, T0);
            if (snapshot)
            {
                await first.CheckpointAsync();
            }
        }

        await using var second = PersistentEngine.Open(Options());
        Assert.Equal(before, EngineState.Describe(second.Engine, T0));
        Assert.Equal(30, second.Engine.ReadToken(17, T0)!.UsedQuotaUnits);
        Assert.Equal(SpecError.IdTaken, second.Engine.CreateToken(new TokenSpec { UserId = 3 }, T0, tokenId: 17).Error);
        Assert.Equal(SpecError.IdTaken, second.Engine.CreateUser(5, userId: 3).Error); // a recovered id stays claimed
        Assert.Equal(4, second.Engine.CreateUser(5).Id); // dense ids go on after the largest recovered one
        Assert.Equal(18, second.Engine.CreateToken(new TokenSpec { UserId = 3 }, T0).Id);
    }
}
