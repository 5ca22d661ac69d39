using System.CommandLine;
using System.Text.Json;
using Quota.Ctl.Cli;
using Spectre.Console;

namespace Quota.Ctl.Commands;

/// <summary>
/// <c>quotactl logs list</c>: system and consume log rows, newest first, filtered like the API. With
/// <c>--follow</c> it prints the latest rows oldest first and then polls for rows with a larger id (log ids only
/// grow), one line each (one JSON object per line with <c>--json</c>), until Ctrl-C.
/// </summary>
internal static class LogCommands
{
    private const int PageSizeMax = 100;
    private const int CatchUpPagesMax = 10; // a burst larger than this between polls is skipped, with a note

    public static Command Build(CommandRunner runner)
    {
        var token = new Option<int?>("--key") { Description = "Only this key's rows" };
        var user = new Option<int?>("--user") { Description = "Only this user's rows" };
        var type = new Option<string?>("--type") { Description = "consume or system" };
        type.AcceptOnlyFromAmong("consume", "system");
        var action = new Option<string?>("--action") { Description = "Only this action, e.g. token.quota_policy.manual_reset" };
        var page = new Option<int>("--page") { Description = "Page number (from 1)", DefaultValueFactory = _ => 1 };
        var size = new Option<int>("--size") { Description = "Rows per page (1…100)", DefaultValueFactory = _ => 20 };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep polling and print new rows as they arrive" };
        var interval = new Option<double>("--interval") { Description = "Seconds between polls in follow mode", DefaultValueFactory = _ => 2 };
        var list = new Command("list", "List log rows (newest first)") { token, user, type, action, page, size, follow, interval };
        runner.Handle(list, async (parse, context) =>
        {
            if (parse.GetValue(page) < 1 || parse.GetValue(size) is < 1 or > PageSizeMax)
            {
                throw new UsageException("--page must be ≥ 1 and --size 1…100");
            }

            if (parse.GetValue(interval) is not (>= 0.05 and <= 3600))
            {
                throw new UsageException("--interval must be 0.05…3600 seconds");
            }

            string filter = (parse.GetValue(token) is { } t ? $"&token_id={t}" : "") + (parse.GetValue(user) is { } u ? $"&user_id={u}" : "")
                + (parse.GetValue(type) is { } ty ? $"&type={ty}" : "") + (parse.GetValue(action) is { } a ? $"&action={Uri.EscapeDataString(a)}" : "");
            if (parse.GetValue(follow))
            {
                return await FollowAsync(context, filter, parse.GetValue(size), TimeSpan.FromSeconds(parse.GetValue(interval))).ConfigureAwait(false);
            }

            JsonElement response = await context.Api.GetAsync($"api/logs?p={parse.GetValue(page)}&size={parse.GetValue(size)}{filter}", context.CancellationToken)
                .ConfigureAwait(false);
            if (context.Terminal.Json)
            {
                context.Terminal.WriteJson(response);
                return ExitCodes.Ok;
            }

            List<JsonElement> rows = [.. Format.Items(response, "items")];
            context.Terminal.Write(Table(rows));
            context.Terminal.Line($"{rows.Count} of {Format.Number(response, "total")} rows.");
            return ExitCodes.Ok;
        });

        var logs = new Command("logs", "System and consume logs") { list };
        return logs;
    }

    private static async Task<int> FollowAsync(CommandContext context, string filter, int size, TimeSpan interval)
    {
        long lastId = 0;
        int take = size;
        try
        {
            while (true)
            {
                List<JsonElement> fresh = await NewRowsAsync(context, filter, lastId, take).ConfigureAwait(false);
                for (int i = fresh.Count - 1; i >= 0; i--)
                {
                    Print(context.Terminal, fresh[i]);
                    lastId = Math.Max(lastId, Format.Number(fresh[i], "id"));
                }

                await context.Terminal.Stdout.FlushAsync(context.CancellationToken).ConfigureAwait(false);
                take = PageSizeMax; // after the first screen, every new row
                await Task.Delay(interval, context.CancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok; // Ctrl-C ends following; it is not an error
        }
    }

    /// <summary>Rows with an id above <paramref name="lastId"/>, newest first (at most <paramref name="take"/> on the first call).</summary>
    private static async Task<List<JsonElement>> NewRowsAsync(CommandContext context, string filter, long lastId, int take)
    {
        var rows = new List<JsonElement>();
        for (int page = 1; page <= CatchUpPagesMax; page++)
        {
            JsonElement response = await context.Api.GetAsync($"api/logs?p={page}&size={take}{filter}", context.CancellationToken).ConfigureAwait(false);
            List<JsonElement> batch = [.. Format.Items(response, "items")];
            foreach (JsonElement row in batch)
            {
                if (Format.Number(row, "id") <= lastId)
                {
                    return rows;
                }

                rows.Add(row);
            }

            if (lastId == 0 || batch.Count < take)
            {
                return rows; // the first screen is one page; otherwise the end of the log was reached
            }
        }

        context.Terminal.Problem($"note: more than {CatchUpPagesMax * PageSizeMax} rows arrived between two polls; older ones were skipped");
        return rows;
    }

    private static void Print(Terminal terminal, JsonElement row)
    {
        if (terminal.Json)
        {
            terminal.WriteJsonLine(row);
            return;
        }

        string usage = Format.Text(row, "type") == "consume"
            ? $" model={Format.Text(row, "model")} prompt={Format.Number(row, "prompt_tokens")} completion={Format.Number(row, "completion_tokens")} quota={Format.Number(row, "quota")}"
            : "";
        terminal.Line($"{Format.Time(Format.Number(row, "created_time"))} #{Format.Number(row, "id")} {Format.Text(row, "type")} key={Format.Number(row, "token_id")} "
            + $"{Format.Text(row, "action")} {Format.Text(row, "content")}{usage}");
    }

    private static Table Table(List<JsonElement> rows)
    {
        var table = new Table().AddColumns("ID", "TIME", "TYPE", "USER", "KEY", "ACTION", "CONTENT", "MODEL", "QUOTA");
        foreach (JsonElement row in rows)
        {
            table.AddRow(
                new Text(Format.Text(row, "id")),
                new Text(Format.Time(Format.Number(row, "created_time"))),
                new Text(Format.Text(row, "type")),
                new Text(Format.Text(row, "user_id")),
                new Text($"{Format.Text(row, "token_id")} {Format.Text(row, "token_name")}".Trim()),
                new Text(Format.Text(row, "action")),
                new Text(Format.Text(row, "content")),
                new Text(Format.Text(row, "model")),
                new Text(Format.Text(row, "type") == "consume" ? Format.Units(Format.Number(row, "quota")) : ""));
        }

        return table;
    }
}
