using System.Globalization;
using System.Text.Json;
using Quota.Ctl.Cli;
using Spectre.Console;

namespace Quota.Ctl.Commands;

/// <summary>Keys and policies as tables. The STATUS column is the API's derived <c>display_status</c>.</summary>
internal static class KeyTables
{
    public static Table Keys(IEnumerable<JsonElement> tokens)
    {
        var table = new Table().AddColumns("ID", "USER", "NAME", "KEY", "STATUS", "REMAIN", "USED", "RESERVED", "EXPIRES", "POLICIES");
        foreach (JsonElement token in tokens)
        {
            table.AddRow(
                Cell(Format.Number(token, "id")),
                Cell(Format.Number(token, "user_id")),
                new Text(Format.Text(token, "name")),
                new Text(Format.Text(token, "key_preview")),
                new Text(Format.Text(token, "display_status")),
                new Text(Format.Flag(token, "unlimited_quota") ? "unlimited" : Format.Units(Format.Number(token, "remain_quota"))),
                new Text(Format.Units(Format.Number(token, "used_quota"))),
                new Text(Format.Units(Format.Number(token, "reserved_quota"))),
                new Text(Format.Time(Format.Number(token, "expired_time"))),
                new Text(Format.PolicySummary(token)));
        }

        return table;
    }

    public static Table Policies(JsonElement token)
    {
        var table = new Table().AddColumns("POLICY", "ON", "PERIOD", "QUOTA", "USED", "RESERVED", "WINDOW START", "NEXT RESET", "TIME ZONE", "ON EXHAUSTION", "BOUNDARY", "AUTO RESUME");
        foreach (JsonElement policy in Format.Items(token, "quota_policies"))
        {
            string period = Format.Text(policy, "period_mode");
            if (period == "custom")
            {
                period += $" {Format.Number(policy, "custom_minutes")}m";
            }

            table.AddRow(
                Cell(Format.Number(policy, "id")),
                new Text(Format.Flag(policy, "enabled") ? "yes" : "no"),
                new Text(period),
                new Text(Format.Units(Format.Number(policy, "quota"))),
                new Text(Format.Units(Format.Number(policy, "used_quota"))),
                new Text(Format.Units(Format.Number(policy, "reserved_quota"))),
                new Text(Format.Time(Format.Number(policy, "period_start"))),
                new Text(Format.Time(Format.Number(policy, "next_reset_at"))),
                new Text(Format.Text(policy, "time_zone")),
                new Text(Format.Text(policy, "exhausted_action")),
                new Text(Format.Text(policy, "boundary_mode")),
                new Text(Format.Flag(policy, "auto_resume") ? "yes" : "no"));
        }

        return table;
    }

    /// <summary>A key with its policies (show, create, update).</summary>
    public static void Print(Terminal terminal, JsonElement token)
    {
        terminal.Write(Keys([token]));
        if (Format.Items(token, "quota_policies").Any())
        {
            terminal.Write(Policies(token));
        }
        else
        {
            terminal.Line("No quota policies.");
        }
    }

    private static Text Cell(long number) => new(number.ToString(CultureInfo.InvariantCulture));
}
