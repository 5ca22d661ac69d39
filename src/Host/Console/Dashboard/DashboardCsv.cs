using System.Globalization;
using System.Text;
using NodaTime;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// <c>GET /dashboard.csv?chart=…</c>: the numbers behind one dashboard chart or list, as CSV (RFC 4180, UTF-8), behind
/// the console's sign-in like its pages. <c>chart</c>: usage (per day and model, or provider with <c>by=provider</c>),
/// top-keys, top-users, refusals (per day, reason and policy), near-exhaustion, paused. Dates are the operator's days.
/// </summary>
internal static class DashboardCsv
{
    public static readonly string[] Charts = ["usage", "top-keys", "top-users", "refusals", "near-exhaustion", "paused"];

    public static void MapDashboardCsv(this WebApplication app) =>
        app.MapGet("/dashboard.csv", (string? chart, string? by, HttpContext context, QuotaRuntime runtime) =>
        {
            if (chart is null || Array.IndexOf(Charts, chart) < 0)
            {
                return Results.Text($"chart: must be one of {string.Join(", ", Charts)}", "text/plain", statusCode: 400);
            }

            if (by is not (null or "model" or "provider"))
            {
                return Results.Text("by: must be model or provider", "text/plain", statusCode: 400);
            }

            DateTimeZone zone = OperatorClock.For(context).Zone;
            DashboardData data = DashboardData.Load(runtime, zone, by == "provider" ? DashboardData.Stack.Provider : DashboardData.Stack.Model);
            var csv = new StringBuilder();
            Write(csv, chart, by ?? "model", data, runtime);
            return Results.File(Encoding.UTF8.GetBytes(csv.ToString()), "text/csv; charset=utf-8", $"dashboard-{chart}.csv");
        }).RequireAuthorization(ConsoleAuth.Policy).ExcludeFromDescription();

    private static void Write(StringBuilder csv, string chart, string by, DashboardData data, QuotaRuntime runtime)
    {
        switch (chart)
        {
            case "usage":
                Row(csv, "date", by, "requests", "spend_units", "tokens");
                for (int day = 0; day < DashboardData.Days; day++)
                {
                    foreach (DashboardData.Usage series in data.Series.OrderBy(s => s.Series, StringComparer.Ordinal))
                    {
                        if (series.Requests[day] != 0 || series.Units[day] != 0 || series.Tokens[day] != 0)
                        {
                            Row(csv, Date(data.FirstDay.PlusDays(day)), series.Series, N(series.Requests[day]), N(series.Units[day]), N(series.Tokens[day]));
                        }
                    }
                }

                break;
            case "top-keys" or "top-users":
                bool users = chart == "top-users";
                Row(csv, users ? "user_id" : "token_id", "name", "spend_units", "requests", "tokens", "hours");
                foreach (DashboardData.Ranked row in users ? data.TopUsers : data.TopKeys)
                {
                    string name = (users ? runtime.Store.FindUser(row.Id)?.Name : runtime.Store.FindToken(row.Id)?.Name) ?? "";
                    Row(csv, N(row.Id), name, N(row.Units), N(row.Requests), N(row.Tokens), N(DashboardData.TopHours));
                }

                break;
            case "refusals":
                Row(csv, "date", "reason", "requests");
                for (int day = 0; day < DashboardData.Days; day++)
                {
                    foreach ((string reason, long[] perDay) in data.RefusalsPerDay.OrderBy(r => r.Reason, StringComparer.Ordinal))
                    {
                        if (perDay[day] != 0)
                        {
                            Row(csv, Date(data.FirstDay.PlusDays(day)), reason, N(perDay[day]));
                        }
                    }
                }

                csv.Append("\r\n");
                Row(csv, "reason", "policy_index", "period_mode", "last_24h", "last_30d");
                foreach (DashboardData.RefusalCount row in data.Refusals)
                {
                    Row(csv, row.Reason, N(row.PolicyIndex), row.Period, N(row.LastDay), N(row.Window));
                }

                break;
            default:
                Row(csv, "token_id", "name", "user_id", "used_share", "paused");
                foreach (DashboardData.Watched key in chart == "paused" ? data.Paused : data.NearExhaustion)
                {
                    Row(csv, N(key.View.TokenId), key.Name, N(key.View.UserId), key.Share.ToString("0.####", CultureInfo.InvariantCulture), key.View.Paused ? "true" : "false");
                }

                break;
        }
    }

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Date(LocalDate date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static void Row(StringBuilder csv, params string[] cells)
    {
        for (int i = 0; i < cells.Length; i++)
        {
            csv.Append(i == 0 ? "" : ",").Append(Cell(cells[i]));
        }

        csv.Append("\r\n");
    }

    /// <summary>A quoted cell when it needs one; a text that a spreadsheet would run as a formula starts with an apostrophe.</summary>
    internal static string Cell(string text)
    {
        if (text.Length > 0 && text[0] is '=' or '+' or '-' or '@' or '\t' or '\r' && !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            text = "'" + text;
        }

        return text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }
}
