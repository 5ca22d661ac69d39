using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using NodaTime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The console's one SVG bar chart: one bar per day, stacked by series, with optional dashed lines (a daily quota).
/// Every bar and line carries a <c>&lt;title&gt;</c>, the chart an <c>aria-label</c>; pages add a table of the same
/// numbers. Series take the colours <c>s0</c> … <c>s7</c> (console.css) in order.
/// </summary>
public static class BarChart
{
    public const int Colours = 8;
    private const int Width = 640, Height = 200, Left = 56, Bottom = 24, Top = 10;

    /// <summary>A named row of per-day values (one per day from the chart's first day); an empty name for a chart's only row.</summary>
    public sealed record Series(string Name, long[] PerDay);

    /// <summary>A horizontal line at <paramref name="Value"/>, explained by <paramref name="Title"/>.</summary>
    public sealed record Line(long Value, string Title);

    public static string Svg(string title, LocalDate firstDay, IReadOnlyList<Series> series, IReadOnlyList<Line>? lines = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        lines ??= [];
        int days = series.Count > 0 ? series[0].PerDay.Length : 0;
        long[] totals = new long[days];
        foreach (Series s in series)
        {
            for (int day = 0; day < days; day++)
            {
                totals[day] += s.PerDay[day];
            }
        }

        long max = Math.Max(1, Math.Max(days > 0 ? totals.Max() : 0, lines.Count > 0 ? lines.Max(l => l.Value) : 0));
        double plotWidth = Width - Left - 8, plotHeight = Height - Top - Bottom, barWidth = plotWidth / Math.Max(1, days);
        int labelEvery = Math.Max(1, (days + 6) / 7);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{Html(title)}\" xmlns=\"http://www.w3.org/2000/svg\">");
        svg.Append(CultureInfo.InvariantCulture, $"<title>{Html(title)}</title>");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left - 6}\" y=\"{Top + 10}\" text-anchor=\"end\">{Html(T.N(max))}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left - 6}\" y=\"{Height - Bottom}\" text-anchor=\"end\">0</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<line class=\"base\" x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - 8}\" y2=\"{Height - Bottom}\"/>");
        for (int day = 0; day < days; day++)
        {
            double x = Left + (day * barWidth) + 1, y = Height - Bottom;
            string label = firstDay.PlusDays(day).ToDateTimeUnspecified().ToString("d", CultureInfo.CurrentCulture);
            for (int i = 0; i < series.Count; i++)
            {
                long value = series[i].PerDay[day];
                if (value == 0 && series.Count > 1)
                {
                    continue;
                }

                double h = plotHeight * value / max;
                y -= h;
                string name = series[i].Name.Length > 0 ? $"{Html(series[i].Name)}: " : "";
                svg.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar s{i % Colours}\" x=\"{x:0.#}\" y=\"{y:0.#}\" width=\"{Math.Max(1, barWidth - 2):0.#}\" height=\"{h:0.#}\"><title>{Html(label)}: {name}{Html(T.N(value))}</title></rect>");
            }

            if (day % labelEvery == 0)
            {
                string shortLabel = firstDay.PlusDays(day).ToDateTimeUnspecified().ToString("M/d", CultureInfo.InvariantCulture);
                svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{x + ((barWidth - 2) / 2):0.#}\" y=\"{Height - 6}\" text-anchor=\"middle\">{shortLabel}</text>");
            }
        }

        foreach (Line line in lines)
        {
            double y = Height - Bottom - (plotHeight * line.Value / max);
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"quota\" x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Width - 8}\" y2=\"{y:0.#}\"><title>{Html(line.Title)}</title></line>");
        }

        return svg.Append("</svg>").ToString();
    }

    private static string Html(string text) => HtmlEncoder.Default.Encode(text);
}
