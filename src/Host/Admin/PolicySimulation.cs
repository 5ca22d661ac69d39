using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Relay;

namespace Quota.Host.Admin;

/// <summary>
/// What-if replay (docs/api.md "Simulating policies"): a key's consume log rows, in time order, through a fresh
/// in-memory <see cref="QuotaEngine"/> holding one unlimited key with the proposed policies and a wallet that never runs
/// out, so the only refusals are the policies' own, decided by the engine's real rules. Each row is reserved (its
/// recorded estimate) and settled (its charge) at its own time, one at a time. Every proposed policy enforces: the
/// question is what they would have refused. Nothing is written anywhere.
/// </summary>
public static class PolicySimulation
{
    /// <summary>Consume rows one simulation replays at most (a longer period is refused, naming <c>from</c>).</summary>
    public const int RowsMax = 200_000;
    /// <summary>Refusals listed one by one; the counts cover them all.</summary>
    public const int RefusedListMax = 1_000;
    public const long DefaultPeriodMs = 30L * 86_400_000;
    public const long PeriodMaxMs = 366L * 86_400_000;
    private const long DayMs = 86_400_000;

    /// <summary>One replayed request: when, for which model, what was reserved and what was charged.</summary>
    public readonly record struct Request(long AtMs, string? Model, long EstimateUnits, long EstimateTokens, long ChargedUnits, long ChargedTokens);

    public readonly record struct Refusal(long AtMs, int PolicyIndex, ReserveResult Reason);

    /// <summary>One UTC day of the period (from midnight): requests replayed, and how many of them would have been refused.</summary>
    public readonly record struct Day(long StartMs, int Requests, int WouldRefuse);

    public sealed record Outcome(int Requests, int WouldRefuse, IReadOnlyList<Refusal> Refused, int[] ByPolicy, IReadOnlyList<Day> ByDay);

    /// <summary>
    /// The key's consume rows in [<paramref name="fromMs"/>, <paramref name="toMs"/>) as requests; null when there are
    /// more than <see cref="RowsMax"/> (<paramref name="total"/> says how many).
    /// </summary>
    internal static IReadOnlyList<Request>? LoadRequests(LiteConfigStore store, int tokenId, long fromMs, long toMs, out int total)
    {
        ArgumentNullException.ThrowIfNull(store);
        (IReadOnlyList<LogDocument> rows, total) = store.QueryLogs(new LogQuery(TokenId: tokenId, Consume: true, Size: RowsMax, FromMs: fromMs, ToMs: toMs));
        if (total > RowsMax)
        {
            return null;
        }

        var requests = new List<Request>(rows.Count);
        for (int i = rows.Count - 1; i >= 0; i--) // newest first: reversed, rows of one instant stay in the order they were written
        {
            if (RequestOf(rows[i]) is { } request)
            {
                requests.Add(request);
            }
        }

        return requests;
    }

    /// <summary>The request of a consume row (null: not a row the relay wrote).</summary>
    internal static Request? RequestOf(LogDocument row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (ConsumeRow.Read(row) is not { } consume)
        {
            return null;
        }

        long charged = Math.Clamp(row.AmountUnits, 0, EngineLimits.AmountMaxUnits);
        long estimate = consume.EstimateUnits > 0 ? consume.EstimateUnits : charged;
        return new Request(
            row.AtMs,
            consume.Model,
            Math.Clamp(estimate, 1, EngineLimits.AmountMaxUnits),
            Math.Clamp(consume.EstimatePromptTokens + consume.EstimateCompletionTokens, 0, EngineLimits.TokensMax),
            charged,
            Math.Clamp(consume.PromptTokens + consume.CompletionTokens, 0, EngineLimits.TokensMax));
    }

    /// <summary>
    /// Replays <paramref name="requests"/> (any order: sorted by time here) under <paramref name="policies"/> (valid:
    /// checked by <see cref="QuotaEngine.Validate(TokenSpec)"/> first) over [<paramref name="fromMs"/>, <paramref name="toMs"/>).
    /// </summary>
    public static Outcome Run(IReadOnlyList<QuotaPolicySpec> policies, IEnumerable<Request> requests, long fromMs, long toMs)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var engine = new QuotaEngine(new EngineOptions { KeysMax = 1, UsersMax = 1, ReservationsMax = 64 });
        int user = engine.CreateUser(EngineLimits.BalanceMaxUnits).Id;
        QuotaPolicySpec[] enforcing = [.. policies.Select(p => p with { Enforcement = PolicyEnforcement.Enforce })];
        SaveOutcome key = engine.CreateToken(new TokenSpec { UserId = user, UnlimitedQuota = true, Policies = enforcing }, fromMs);
        if (!key.IsOk)
        {
            throw new ArgumentException($"the policies were not validated: {key.Error}", nameof(policies));
        }

        long firstDayMs = fromMs - (fromMs % DayMs); // UTC days
        var days = new Day[(int)((toMs - firstDayMs + DayMs - 1) / DayMs)];
        for (int i = 0; i < days.Length; i++)
        {
            days[i] = new Day(firstDayMs + (i * DayMs), 0, 0);
        }

        var refused = new List<Refusal>();
        int[] byPolicy = new int[policies.Count];
        int count = 0, wouldRefuse = 0;
        foreach (Request request in requests.OrderBy(r => r.AtMs))
        {
            count++;
            int day = (int)((request.AtMs - firstDayMs) / DayMs);
            ReserveOutcome reserved = engine.Reserve(key.Id, new ReserveRequest(request.EstimateUnits, request.EstimateTokens, request.Model), request.AtMs);
            if (reserved.IsOk)
            {
                engine.Settle(reserved.Id, request.ChargedUnits, request.ChargedTokens, request.AtMs);
                days[day] = days[day] with { Requests = days[day].Requests + 1 };
                continue;
            }

            wouldRefuse++;
            days[day] = days[day] with { Requests = days[day].Requests + 1, WouldRefuse = days[day].WouldRefuse + 1 };
            if (reserved.PolicyIndex >= 0)
            {
                byPolicy[reserved.PolicyIndex]++;
            }

            if (refused.Count < RefusedListMax)
            {
                refused.Add(new Refusal(request.AtMs, reserved.PolicyIndex, reserved.Result));
            }
        }

        return new Outcome(count, wouldRefuse, refused, byPolicy, days);
    }

    /// <summary>The API's name of a refusal's reason.</summary>
    public static string ReasonName(ReserveResult reason) => reason switch
    {
        ReserveResult.PolicyExhausted => "policy_exhausted",
        ReserveResult.PolicyEstimateTooLarge => "estimate_too_large",
        ReserveResult.KeyPaused => "key_paused",
        _ => reason.ToString(),
    };
}
