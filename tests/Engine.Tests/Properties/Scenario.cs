using FsCheck;
using FsCheck.Fluent;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;

namespace Quota.Engine.Tests.Properties;

internal enum OpKind
{
    Reserve,
    Settle,
    Refund,
    Advance,
    ManualReset,
}

/// <summary>One generated step: A is the amount (reserve), the actual-cost choice (settle) or the time step choice (advance).</summary>
internal sealed record Op(OpKind Kind, long A, int Target);

/// <summary>A generated key: a small pool of keys sharing one wallet, each with one policy, and a list of steps.</summary>
internal sealed record Scenario(long QuotaUnits, BoundaryMode Boundary, ExhaustedAction Action, PeriodMode Mode, int Keys, Op[] Ops, bool ActualAboveEstimate,
    PolicyMetric Metric = PolicyMetric.Quota, bool Scoped = false)
{
    /// <summary>A reserve's amount in the policy's metric (its tokens equal its units here; a request is one).</summary>
    public long InMetric(long amount) => Metric == PolicyMetric.Requests ? 1 : amount;

    /// <summary>Generators biased to the edges: amounts 1, quota−1, quota, quota+1; times at window end ±1 ms.</summary>
    public static Arbitrary<Scenario> Arbitrary(bool allowOvercharge = true) =>
        (from quota in Gen.Elements(1L, 2L, 10L, 100L, 1000L)
         from boundary in Gen.Elements(BoundaryMode.Strict, BoundaryMode.Graceful)
         from action in Gen.Elements(ExhaustedAction.RejectOnly, ExhaustedAction.DisableToken)
         from mode in Gen.Elements(PeriodMode.Preset5h, PeriodMode.Daily, PeriodMode.Custom)
         from keys in Gen.Choose(1, 3)
         from ops in OpGen(quota).ArrayOf()
         from over in allowOvercharge ? Gen.Elements(true, false) : Gen.Constant(false)
         from metric in Gen.Elements(PolicyMetric.Quota, PolicyMetric.Tokens, PolicyMetric.Requests)
         from scoped in Gen.Elements(true, false)
         select new Scenario(quota, boundary, action, mode, keys, ops, over, metric, scoped)).ToArbitrary();

    private static Gen<Op> OpGen(long quota) => Gen.Frequency(
        (6, from amount in Gen.OneOf(Gen.Elements(1L, Math.Max(1, quota - 1), quota, quota + 1), Gen.Choose(1, 1200).Select(x => (long)x))
            from target in Gen.Choose(0, 2)
            select new Op(OpKind.Reserve, amount, target)),
        (4, from actual in Gen.Choose(0, 4) from target in Gen.Choose(0, 60) select new Op(OpKind.Settle, actual, target)),
        (2, from target in Gen.Choose(0, 60) select new Op(OpKind.Refund, 0, target)),
        (2, from step in Gen.Choose(0, 4) select new Op(OpKind.Advance, step, 0)),
        (1, from target in Gen.Choose(0, 2) select new Op(OpKind.ManualReset, 0, target)));
}

/// <summary>Runs a scenario on a real engine, calling back before and after each step.</summary>
internal sealed class ScenarioRun
{
    public readonly TestEngine T = new(options: new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1024 });
    public readonly List<(ReservationId Id, long Estimate)> Reservations = [];
    public readonly int[] Tokens;
    public readonly int UserId;
    private readonly Scenario scenario;

    public ScenarioRun(Scenario scenario)
    {
        this.scenario = scenario;
        UserId = T.User(50_000);
        Tokens = new int[scenario.Keys];
        for (int i = 0; i < scenario.Keys; i++)
        {
            Tokens[i] = T.Token(UserId, 20_000, TestEngine.Policy(
                scenario.QuotaUnits, scenario.Mode, scenario.Boundary, scenario.Action,
                customMinutes: scenario.Mode == PeriodMode.Custom ? 10 : 0, timeZone: "America/New_York") with
            {
                Metric = scenario.Metric,
                Models = scenario.Scoped ? ["gpt-4*"] : [],
            });
        }
    }

    public int TokenFor(Op op) => Tokens[op.Target % Tokens.Length];

    public long ActualFor(Op op, long estimate) => op.A switch
    {
        0 => 0,
        1 => estimate,
        2 => Math.Max(0, estimate - 1),
        3 => scenario.ActualAboveEstimate ? estimate + 1 : estimate,
        _ => scenario.ActualAboveEstimate ? estimate * 2 : estimate / 2,
    };

    public void Run(Action<Op>? before = null, Action<Op, object?>? after = null)
    {
        foreach (Op op in scenario.Ops)
        {
            before?.Invoke(op);
            after?.Invoke(op, Apply(op));
        }
    }

    private object? Apply(Op op)
    {
        switch (op.Kind)
        {
            case OpKind.Reserve:
                ReserveOutcome reserved = T.Engine.Reserve(TokenFor(op), new ReserveRequest(op.A, Tokens: op.A, Model: "gpt-4o"), T.NowMs);
                if (reserved.IsOk)
                {
                    Reservations.Add((reserved.Id, op.A));
                }

                return reserved;
            case OpKind.Settle when Reservations.Count > 0:
                (ReservationId id, long estimate) = Reservations[op.Target % Reservations.Count];
                long actual = ActualFor(op, estimate);
                return T.Engine.Settle(id, actual, actualTokens: actual, T.NowMs);
            case OpKind.Refund when Reservations.Count > 0:
                return T.Refund(Reservations[op.Target % Reservations.Count].Id);
            case OpKind.Advance:
                long end = T.Policy0(Tokens[0]).PeriodEndMs;
                T.NowMs = op.A switch
                {
                    0 => Math.Max(T.NowMs, end - 1),
                    1 => Math.Max(T.NowMs, end),
                    2 => Math.Max(T.NowMs, end + 1),
                    3 => T.NowMs + 1,
                    _ => T.NowMs + 601_000, // past the reservation TTL
                };
                T.Engine.ExpireDue(T.NowMs);
                return null;
            case OpKind.ManualReset:
                return T.Engine.ResetPolicies(TokenFor(op), -1, T.NowMs);
            default:
                return null;
        }
    }
}
