using NodaTime;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The numbers of one dashboard page (and of its CSV export), read from the hourly counters (<see cref="UsageRollup"/>)
/// and the watched keys, never from the log rows: per day over <see cref="Days"/> days in the operator's zone (an hour
/// counts on the day it starts), the top keys and users by spend over the last <see cref="TopHours"/> hours (the
/// current hour and the 23 before it), refusals by reason and by policy, and the keys near exhaustion or paused.
/// </summary>
internal sealed class DashboardData
{
    public const int Days = 30;
    public const int TopHours = UsageRollup.KeyWindowHours;
    public const int TopCount = 10;
    /// <summary>Watched keys read per page at most (docs/operations.md "Dashboard").</summary>
    public const int WatchedReadMax = 2_000;
    public const int WatchedShownMax = 50;

    /// <summary>How the usage charts stack: by model or by provider.</summary>
    public enum Stack
    {
        Model,
        Provider,
    }

    public sealed record Usage(string Series, long[] Requests, long[] Units, long[] Tokens);

    public sealed record Ranked(int Id, long Units, long Requests, long Tokens);

    public sealed record RefusalCount(string Reason, int PolicyIndex, string Period, long LastDay, long Window);

    public sealed record Watched(TokenView View, string Name, double Share);

    public required LocalDate FirstDay { get; init; }
    public required long NowMs { get; init; }
    /// <summary>Per series (model or provider), per day; largest spend first.</summary>
    public required IReadOnlyList<Usage> Series { get; init; }
    /// <summary>Refusals per reason, per day.</summary>
    public required IReadOnlyList<(string Reason, long[] PerDay)> RefusalsPerDay { get; init; }
    public required IReadOnlyList<Ranked> TopKeys { get; init; }
    public required IReadOnlyList<Ranked> TopUsers { get; init; }
    /// <summary>Refusals by reason and refusing policy (-1: none), in the last <see cref="TopHours"/> hours and in the <see cref="Days"/> days.</summary>
    public required IReadOnlyList<RefusalCount> Refusals { get; init; }
    public required IReadOnlyList<Watched> NearExhaustion { get; init; }
    public required IReadOnlyList<Watched> Paused { get; init; }
    /// <summary>Whether more keys are watched than a page reads (<see cref="WatchedReadMax"/>).</summary>
    public required bool WatchedCapped { get; init; }

    public static DashboardData Load(QuotaRuntime runtime, DateTimeZone zone, Stack stack)
    {
        long now = runtime.NowMs;
        LocalDate today = Instant.FromUnixTimeMilliseconds(now).InZone(zone).Date;
        LocalDate first = today.PlusDays(1 - Days);
        long fromHour = RollupDimensions.HourOf(zone.AtStartOfDay(first).ToInstant().ToUnixTimeMilliseconds());
        long topFrom = RollupDimensions.HourOf(now) - ((TopHours - 1) * RollupDimensions.HourMs);
        var usage = new Dictionary<string, Usage>(StringComparer.Ordinal);
        var refusalsPerDay = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var refusals = new Dictionary<(string, int, string), (long LastDay, long Window)>();
        var keys = new Dictionary<int, Sum>();
        var users = new Dictionary<int, Sum>();
        runtime.Usage.Read(fromHour, long.MaxValue, (hour, counters) =>
        {
            int day = Period.Between(first, Instant.FromUnixTimeMilliseconds(hour).InZone(zone).Date, PeriodUnits.Days).Days;
            bool recent = hour >= topFrom;
            if (day is < 0 or >= Days)
            {
                return;
            }

            foreach (((string provider, string model), Counters c) in counters.Models)
            {
                string name = stack == Stack.Model ? model : provider;
                if (!usage.TryGetValue(name, out Usage? series))
                {
                    usage[name] = series = new Usage(name, new long[Days], new long[Days], new long[Days]);
                }

                series.Requests[day] += c.Requests;
                series.Units[day] += c.Units;
                series.Tokens[day] += c.Tokens;
            }

            foreach (((string reason, int policy, string period), Counters c) in counters.Refusals)
            {
                if (!refusalsPerDay.TryGetValue(reason, out long[]? perDay))
                {
                    refusalsPerDay[reason] = perDay = new long[Days];
                }

                perDay[day] += c.Requests;
                (long lastDay, long window) = refusals.GetValueOrDefault((reason, policy, period));
                refusals[(reason, policy, period)] = (lastDay + (recent ? c.Requests : 0), window + c.Requests);
            }

        });
        runtime.Usage.ReadKeyWindow((tokenId, c) =>
        {
            Rank(keys, tokenId, c);
            Rank(users, c.UserId, c);
        });

        (TokenView View, double Share)[] watched = [.. runtime.Watched.Current(WatchedReadMax).Select(v => (v, WatchedKeys.UsedShare(v)))
            .OrderByDescending(w => w.Item2).ThenBy(w => w.v.TokenId)];
        Watched[] Shown(bool paused) => [.. watched.Where(w => w.View.Paused == paused).Take(WatchedShownMax)
            .Select(w => new Watched(w.View, runtime.Store.FindToken(w.View.TokenId)?.Name ?? "", w.Share))];
        return new DashboardData
        {
            FirstDay = first,
            NowMs = now,
            Series = [.. usage.Values.OrderByDescending(s => s.Units.Sum()).ThenBy(s => s.Series, StringComparer.Ordinal)],
            RefusalsPerDay = [.. refusalsPerDay.OrderByDescending(r => r.Value.Sum()).Select(r => (r.Key, r.Value))],
            TopKeys = Top(keys),
            TopUsers = Top(users),
            Refusals = [.. refusals.Select(r => new RefusalCount(r.Key.Item1, r.Key.Item2, r.Key.Item3, r.Value.LastDay, r.Value.Window))
                .OrderByDescending(r => r.Window).ThenBy(r => r.Reason, StringComparer.Ordinal).ThenBy(r => r.PolicyIndex)],
            NearExhaustion = Shown(paused: false),
            Paused = Shown(paused: true),
            WatchedCapped = runtime.Watched.Count > WatchedReadMax,
        };
    }

    /// <summary>A key's or user's sum (a struct in place: 100,000 keys allocate nothing each).</summary>
    private struct Sum
    {
        public long Units, Requests, Tokens;
    }

    private static void Rank(Dictionary<int, Sum> table, int id, Counters c)
    {
        ref Sum sum = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(table, id, out _);
        sum.Units += c.Units;
        sum.Requests += c.Requests;
        sum.Tokens += c.Tokens;
    }

    /// <summary>The <see cref="TopCount"/> largest by spend (then requests, then the lower id), kept in a small sorted list.</summary>
    private static Ranked[] Top(Dictionary<int, Sum> table)
    {
        var top = new List<Ranked>(TopCount + 1);
        foreach ((int id, Sum sum) in table)
        {
            var candidate = new Ranked(id, sum.Units, sum.Requests, sum.Tokens);
            if (top.Count == TopCount && !Before(candidate, top[^1]))
            {
                continue;
            }

            int at = top.FindIndex(r => Before(candidate, r));
            top.Insert(at < 0 ? top.Count : at, candidate);
            if (top.Count > TopCount)
            {
                top.RemoveAt(TopCount);
            }
        }

        return [.. top];
    }

    private static bool Before(Ranked a, Ranked b) =>
        a.Units != b.Units ? a.Units > b.Units : a.Requests != b.Requests ? a.Requests > b.Requests : a.Id < b.Id;
}
