using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;

namespace Quota.Engine.Tests;

/// <summary>
/// Two operators top up one wallet at the same moment, each by as much as the wallet may hold. The bound
/// (<see cref="EngineLimits.BalanceMaxUnits"/>) was checked before the addition and outside it, so both could pass the
/// check and the wallet held twice its maximum (eight such top-ups overflow a long). Exactly one may win.
/// </summary>
public sealed class WalletRaceAttackTests
{
    private const int Rounds = 3_000; // before the fix, the bound broke within ~100 rounds

    [Fact]
    public void TwoTopUpsToTheMaximum_AtTheSameMoment_OneWins_AndTheWalletNeverPassesItsBound()
    {
        var t = new TestEngine(options: new EngineOptions { KeysMax = 4, UsersMax = 2, ReservationsMax = 1024 });
        int user = t.User(0);
        int round = 0, arrived = 0, wins = 0;
        bool stop = false;

        void TopUp()
        {
            for (int mine = 1; mine <= Rounds; mine++)
            {
                while (Volatile.Read(ref round) < mine && !Volatile.Read(ref stop))
                {
                    Thread.SpinWait(1); // both threads leave this line together: the top-ups race
                }

                if (Volatile.Read(ref stop))
                {
                    return;
                }

                if (t.Engine.CreditUser(user, EngineLimits.BalanceMaxUnits) == SpecError.None)
                {
                    Interlocked.Increment(ref wins);
                }

                Interlocked.Increment(ref arrived);
            }
        }

        var threads = new[] { new Thread(TopUp), new Thread(TopUp) };
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        try
        {
            for (int r = 1; r <= Rounds; r++)
            {
                Volatile.Write(ref round, r);
                SpinWait.SpinUntil(() => Volatile.Read(ref arrived) == 2 * r);
                long balance = t.Engine.ReadUser(user)!.QuotaUnits;
                Assert.True(balance <= EngineLimits.BalanceMaxUnits, $"round {r}: the wallet holds {balance}, above {EngineLimits.BalanceMaxUnits}");
                Assert.Equal(r, Volatile.Read(ref wins));
                Assert.Equal(SpecError.None, t.Engine.CreditUser(user, -balance)); // back to 0 for the next round
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            foreach (Thread thread in threads)
            {
                Assert.True(thread.Join(TimeSpan.FromMinutes(1)));
            }
        }

        Assert.Empty(ConservationAudit.Check(t.Engine));
    }
}
