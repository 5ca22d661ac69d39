using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using NodaTime;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// A key's consumption per day over the last <see cref="Days"/> days (operator's zone), from its consume log rows,
/// as a server-rendered SVG bar chart with a line at each daily policy's quota. Other periods show their current
/// window in the policies table. At most <see cref="RowsMax"/> rows are read; the chart says when it was capped.
/// </summary>
public static class UsageChart
{
    public const int Days = 14;
    private const int RowsMax = 20_000;
    private const int Width = 640, Height = 200, Left = 56, Bottom = 24, Top = 10;

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

    public static string Svg(Data data, string title)
    {
        ArgumentNullException.ThrowIfNull(data);
        int days = data.PerDay.Length; // the key page's 14 days, or a simulation's period
        long max = Math.Max(1, Math.Max(data.PerDay.Max(), data.DailyQuotas.Count > 0 ? data.DailyQuotas.Max() : 0));
        double plotWidth = Width - Left - 8, plotHeight = Height - Top - Bottom, barWidth = plotWidth / days;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{Html(title)}\" xmlns=\"http://www.w3.org/2000/svg\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left - 6}\" y=\"{Top + 10}\" text-anchor=\"end\">{Html(T.N(max))}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left - 6}\" y=\"{Height - Bottom}\" text-anchor=\"end\">0</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<line class=\"base\" x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - 8}\" y2=\"{Height - Bottom}\"/>");
        for (int day = 0; day < days; day++)
        {
            double h = plotHeight * data.PerDay[day] / max, x = Left + (day * barWidth) + 2;
            string label = data.FirstDay.PlusDays(day).ToDateTimeUnspecified().ToString("d", CultureInfo.CurrentCulture);
            svg.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"{x:0.#}\" y=\"{Height - Bottom - h:0.#}\" width=\"{barWidth - 4:0.#}\" height=\"{h:0.#}\"><title>{Html(label)}: {Html(T.N(data.PerDay[day]))}</title></rect>");
            if (day % ((days / 15) + 2) == 0) // about 7 to 15 labels: they must not overlap
            {
                string shortLabel = data.FirstDay.PlusDays(day).ToDateTimeUnspecified().ToString("M/d", CultureInfo.InvariantCulture);
                svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{x + ((barWidth - 4) / 2):0.#}\" y=\"{Height - 6}\" text-anchor=\"middle\">{shortLabel}</text>");
            }
        }

        foreach (long quota in data.DailyQuotas)
        {
            double y = Height - Bottom - (plotHeight * quota / max);
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"quota\" x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Width - 8}\" y2=\"{y:0.#}\"><title>{Html(T.Format("Chart_DailyQuota", T.N(quota)))}</title></line>");
        }

        return svg.Append("</svg>").ToString();
    }

    private static string Html(string text) => HtmlEncoder.Default.Encode(text);
}
