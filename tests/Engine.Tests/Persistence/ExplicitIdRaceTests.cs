using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// Two creates racing for one id (docs/design.md "Saves"): the second one runs inside the first, right after the first
/// appended its record and before it published the new user or key — the widest window there is. Exactly one wins; the
/// loser is refused with IdTaken and appends nothing, so a replay holds one wallet credit, never two.
/// </summary>
public sealed class ExplicitIdRaceTests
{
    private static readonly EngineOptions Options = new() { KeysMax = 64, UsersMax = 8, ReservationsMax = 64 };

    [Fact]
    public void TwoCreatesOfOneUserId_OneWins_AndTheLogHoldsOneCredit()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        SaveOutcome? inner = null;
        sink.AfterAppend = _ =>
        {
            sink.AfterAppend = null;
            inner = engine.CreateUser(500, userId: 5);
        };

        SaveOutcome outer = engine.CreateUser(500, userId: 5);

        Assert.Equal(new SaveOutcome(SpecError.None, 5, -1), outer);
        Assert.Equal(new SaveOutcome(SpecError.IdTaken, 0, -1), inner);
        Assert.Single(sink.Records, r => r.Record.Kind == DeltaKind.UserCredit);
        Assert.Equal(500, sink.Replay(Options).ReadUser(5)!.QuotaUnits);
    }

    [Fact]
    public void AnExplicitUserId_RacingADenseCreateOfTheSameId_IsRefused()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        SaveOutcome? inner = null;
        sink.AfterAppend = _ =>
        {
            sink.AfterAppend = null;
            inner = engine.CreateUser(700, userId: 1); // the dense create below took id 1 and has not published it yet
        };

        SaveOutcome outer = engine.CreateUser(300);

        Assert.Equal(new SaveOutcome(SpecError.None, 1, -1), outer);
        Assert.Equal(SpecError.IdTaken, inner!.Value.Error);
        Assert.Equal(300, sink.Replay(Options).ReadUser(1)!.QuotaUnits);
    }

    [Fact]
    public void ADenseCreate_RacingAnExplicitCreateOfTheNextId_TakesAnotherId()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        SaveOutcome? inner = null;
        sink.AfterAppend = _ =>
        {
            sink.AfterAppend = null;
            inner = engine.CreateUser(300); // the explicit create below holds id 1 but has not published it yet
        };

        SaveOutcome outer = engine.CreateUser(700, userId: 1);

        Assert.Equal(new SaveOutcome(SpecError.None, 1, -1), outer);
        Assert.Equal(new SaveOutcome(SpecError.None, 2, -1), inner);
        QuotaEngine replayed = sink.Replay(Options);
        Assert.Equal(700, replayed.ReadUser(1)!.QuotaUnits);
        Assert.Equal(300, replayed.ReadUser(2)!.QuotaUnits);
    }

    [Fact]
    public void TwoCreatesOfOneTokenId_OneWins_AndTheLogHoldsOneSave()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        int user = engine.CreateUser(10_000).Id;
        var first = new TokenSpec { UserId = user, RemainQuotaUnits = 100, Policies = [Policy(30, anchorMs: T0)] };
        var second = first with { RemainQuotaUnits = 900 };
        SaveOutcome? inner = null;
        sink.AfterAppend = _ =>
        {
            sink.AfterAppend = null;
            inner = engine.CreateToken(second, T0, tokenId: 40);
        };

        SaveOutcome outer = engine.CreateToken(first, T0, tokenId: 40);

        Assert.Equal(new SaveOutcome(SpecError.None, 40, -1), outer);
        Assert.Equal(new SaveOutcome(SpecError.IdTaken, 0, -1), inner);
        Assert.Single(sink.Records, r => r.Record.Kind == DeltaKind.TokenSave);
        Assert.Equal(EngineState.Describe(engine, T0), EngineState.Describe(sink.Replay(Options), T0));
        Assert.Equal(100, engine.ReadToken(40, T0)!.RemainQuotaUnits);
    }

    [Fact]
    public void ADenseTokenCreate_RacingAnExplicitCreateOfTheNextId_TakesAnotherId()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(Options, sink);
        int user = engine.CreateUser(10_000).Id;
        var spec = new TokenSpec { UserId = user, RemainQuotaUnits = 100 };
        SaveOutcome? inner = null;
        sink.AfterAppend = _ =>
        {
            sink.AfterAppend = null;
            inner = engine.CreateToken(spec with { RemainQuotaUnits = 7 }, T0);
        };

        SaveOutcome outer = engine.CreateToken(spec, T0, tokenId: 1);

        Assert.Equal(new SaveOutcome(SpecError.None, 1, -1), outer);
        Assert.Equal(new SaveOutcome(SpecError.None, 2, -1), inner);
        Assert.Equal(EngineState.Describe(engine, T0), EngineState.Describe(sink.Replay(Options), T0));
    }

    /// <summary>Real threads: many creates of each id at once; each id is created once, and a replay agrees.</summary>
    [Fact]
    public void ManyThreadsCreatingTheSameIds_CreateEachOnce()
    {
        var sink = new RecordingSink();
        var engine = new QuotaEngine(new EngineOptions { KeysMax = 256, UsersMax = 256, ReservationsMax = 64 }, sink);
        int[] userWins = new int[129], tokenWins = new int[129];
        int owner = engine.CreateUser(1).Id;
        using var start = new Barrier(4);
        Thread[] threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (int id = 2; id <= 128; id++)
            {
                if (engine.CreateUser(1_000, id).IsOk)
                {
                    Interlocked.Increment(ref userWins[id]);
                }

                if (engine.CreateToken(new TokenSpec { UserId = owner, RemainQuotaUnits = 5 }, T0, id).IsOk)
                {
                    Interlocked.Increment(ref tokenWins[id]);
                }
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Assert.All(userWins.Skip(2), wins => Assert.Equal(1, wins));
        Assert.All(tokenWins.Skip(2), wins => Assert.Equal(1, wins));
        Assert.Equal(127 + 1, sink.Records.Count(r => r.Record.Kind == DeltaKind.UserCredit));
        Assert.Equal(EngineState.Describe(engine, T0), EngineState.Describe(sink.Replay(engine.Options), T0));
    }
}
