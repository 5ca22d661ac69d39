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
    /// <summary>A reserve with a save of its key run in its middle: the policy switched to another metric and scope.</summary>
    RacingSave,
}

/// <summary>
/// One generated step: A is the amount (reserve), the actual-cost choice (settle) or the time step choice (advance);
/// Change picks a racing save's new metric and scope and where in the reserve it runs.
/// </summary>
internal sealed record Op(OpKind Kind, long A, int Target, int Change = 0);

/// <summary>A generated key: a small pool of keys sharing one wallet, each with one policy, and a list of steps.</summary>
internal sealed record Scenario(long QuotaUnits, BoundaryMode Boundary, ExhaustedAction Action, PeriodMode Mode, int Keys, Op[] Ops, bool ActualAboveEstimate,
    PolicyMetric Metric = PolicyMetric.Quota, bool Scoped = false)
{
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
        (1, from target in Gen.Choose(0, 2) select new Op(OpKind.ManualReset, 0, target)),
        (2, from amount in Gen.OneOf(Gen.Elements(1L, Math.Max(1, quota - 1), quota, quota + 1), Gen.Choose(1, 1200).Select(x => (long)x))
            from target in Gen.Choose(0, 2)
            from change in Gen.Choose(0, 17)
            select new Op(OpKind.RacingSave, amount, target, change)));
}

/// <summary>
/// Runs a scenario on a real engine, calling back before and after each step. A racing save runs inside its reserve
/// (docs/design.md "Invariants", configuration publication), or, with <paramref name="serialSaves"/>, before it: the
/// twin the racing run must equal.
/// </summary>
internal sealed class ScenarioRun
{
    private static readonly PolicyMetric[] Metrics = [PolicyMetric.Quota, PolicyMetric.Tokens, PolicyMetric.Requests];
    private static readonly string[][] Scopes = [[], ["gpt-4*"], ["claude-*"]];

    public readonly TestEngine T = new(options: new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1024 });
    public readonly List<(ReservationId Id, long Estimate)> Reservations = [];
    public readonly int[] Tokens;
    public readonly int UserId;
    private readonly Scenario scenario;
    private readonly bool serialSaves;
    private readonly Dictionary<int, QuotaPolicySpec> policies = [];

    public ScenarioRun(Scenario scenario, bool serialSaves = false)
    {
        this.scenario = scenario;
        this.serialSaves = serialSaves;
        UserId = T.User(50_000);
        Tokens = new int[scenario.Keys];
        for (int i = 0; i < scenario.Keys; i++)
        {
            QuotaPolicySpec policy = TestEngine.Policy(
                scenario.QuotaUnits, scenario.Mode, scenario.Boundary, scenario.Action,
                customMinutes: scenario.Mode == PeriodMode.Custom ? 10 : 0, timeZone: "America/New_York") with
            {
                Metric = scenario.Metric,
                Models = scenario.Scoped ? ["gpt-4*"] : [],
            };
            Tokens[i] = T.Token(UserId, 20_000, policy);
            policies[Tokens[i]] = policy;
        }
    }

    public int TokenFor(Op op) => Tokens[op.Target % Tokens.Length];

    /// <summary>A reserve's amount in the key's policy's metric (its tokens equal its units here; a request is one).</summary>
    public long InMetric(int token, long amount) => policies[token].Metric == PolicyMetric.Requests ? 1 : amount;

    /// <summary>Whether the key's policy applies to the scenario's requests (model gpt-4o).</summary>
    public bool PolicyApplies(int token) => policies[token].Models is [] or ["gpt-4*"];

    public long ActualFor(Op op, long estimate) => op.A switch
    {
        0 => 0,
        1 => estimate,
        2 => Math.Max(0, estimate - 1),
        3 => scenario.ActualAboveEstimate ? estimate + 1 : estimate,
        _ => scenario.ActualAboveEstimate ? estimate * 2 : estimate / 2,
    };

    private ReserveOutcome ReserveRacingASave(Op op)
    {
        int token = TokenFor(op);
        QuotaPolicySpec next = policies[token] with { Metric = Metrics[op.Change % 3], Models = Scopes[op.Change / 3 % 3] };
        var update = new TokenUpdate { Policies = [next] };
        var request = new ReserveRequest(op.A, Tokens: op.A, Model: "gpt-4o");
        policies[token] = next;
        if (serialSaves)
        {
            Assert.True(T.Engine.UpdateToken(token, update, T.NowMs).IsOk);
            return Reserved(T.Engine.Reserve(token, request, T.NowMs), op.A);
        }

        bool saved = false;
        var point = op.Change / 9 == 0 ? Diagnostics.RaceHooks.Point.ReserveConfigurationRead : Diagnostics.RaceHooks.Point.ReserveDecided;
        using (RaceHook.At(point, () => saved = T.Engine.UpdateToken(token, update, T.NowMs).IsOk))
        {
            ReserveOutcome outcome = T.Engine.Reserve(token, request, T.NowMs);
            Assert.True(saved, "the save did not run inside the reserve");
            return Reserved(outcome, op.A);
        }
    }

    private ReserveOutcome Reserved(ReserveOutcome outcome, long estimate)
    {
        if (outcome.IsOk)
        {
            Reservations.Add((outcome.Id, estimate));
        }

        return outcome;
    }

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
            case OpKind.RacingSave:
                return ReserveRacingASave(op);
            default:
                return null;
        }
    }
}
