using System.Globalization;
using NodaTime;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// A key's consumption per day over the last <see cref="Days"/> days (operator's zone), from its consume log rows,
/// as a server-rendered SVG bar chart (<see cref="BarChart"/>) with a line at each daily policy's quota. Other periods show their current
/// window in the policies table. At most <see cref="RowsMax"/> rows are read; the chart says when it was capped.
/// </summary>
public static class UsageChart
{
    public const int Days = 14;
    private const int RowsMax = 20_000;

    public sealed record Data(long[] PerDay, LocalDate FirstDay, bool Capped, IReadOnlyList<long> DailyQuotas);

    public static Data Load(QuotaRuntime runtime, TokenView view, DateTimeZone zone)
    {
        LocalDate today = Instant.FromUnixTimeMilliseconds(runtime.NowMs).InZone(zone).Date;
        LocalDate first = today.PlusDays(1 - Days);
        long fromMs = zone.AtStartOfDay(first).ToInstant().ToUnixTimeMilliseconds();
        (IReadOnlyList<LogDocument> rows, int total) = runtime.Store.QueryLogs(new LogQuery(TokenId: view.TokenId, Consume: true, Size: RowsMax, FromMs: fromMs));
        long[] perDay = new long[Days];
        foreach (LogDocument row in rows)
        {
            int day = Period.Between(first, Instant.FromUnixTimeMilliseconds(row.AtMs).InZone(zone).Date, PeriodUnits.Days).Days;
            if (day is >= 0 and < Days)
            {
                perDay[day] += row.AmountUnits;
            }
        }

        long[] dailyQuotas = [.. view.Policies.Where(p => p.Spec.Enabled && p.Spec.Mode == PeriodMode.Daily).Select(p => p.Spec.QuotaUnits)];
        return new Data(perDay, first, total > rows.Count, dailyQuotas);
    }

    public static string Svg(Data data, string title) =>
        BarChart.Svg(title, data.FirstDay, [new BarChart.Series("", data.PerDay)],
            [.. data.DailyQuotas.Select(quota => new BarChart.Line(quota, T.Format("Chart_DailyQuota", T.N(quota))))]);
}
