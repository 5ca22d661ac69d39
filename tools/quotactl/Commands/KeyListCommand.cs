using System.CommandLine;
using System.Text.Json;
using Quota.Ctl.Cli;

namespace Quota.Ctl.Commands;

/// <summary><c>quotactl keys list</c>: one page of keys (or every page with <c>--all</c>) as a table with the derived status.</summary>
internal static class KeyListCommand
{
    private const int PageSizeMax = 100; // the API's largest page

    public static Command Build(CommandRunner runner)
    {
        var user = new Option<int?>("--user") { Description = "Only this user's keys" };
        var status = new Option<string?>("--status") { Description = "Only keys with this display_status" };
        status.AcceptOnlyFromAmong("enabled", "disabled", "expired", "exhausted", "quota_policy_disabled", "quota_policy_recovering");
        var page = new Option<int>("--page") { Description = "Page number (from 1)", DefaultValueFactory = _ => 1 };
        var size = new Option<int>("--size") { Description = "Keys per page (1…100)", DefaultValueFactory = _ => 20 };
        var all = new Option<bool>("--all") { Description = "Every page" };
        var list = new Command("list", "List keys with their status") { user, status, page, size, all };
        runner.Handle(list, async (parse, context) =>
        {
            if (parse.GetValue(page) < 1 || parse.GetValue(size) is < 1 or > PageSizeMax)
            {
                throw new UsageException("--page must be ≥ 1 and --size 1…100");
            }

            string filter = (parse.GetValue(user) is { } u ? $"&user_id={u}" : "") + (parse.GetValue(status) is { } s ? $"&status={s}" : "");
            (List<JsonElement> items, long total) = parse.GetValue(all)
                ? await ReadAllAsync(context, filter).ConfigureAwait(false)
                : await ReadPageAsync(context, filter, parse.GetValue(page), parse.GetValue(size)).ConfigureAwait(false);
            if (context.Terminal.Json)
            {
                context.Terminal.WriteJson(JsonSerializer.SerializeToElement(new { items, total }));
                return ExitCodes.Ok;
            }

            context.Terminal.Write(KeyTables.Keys(items));
            context.Terminal.Line($"{items.Count} of {total} keys.");
            return ExitCodes.Ok;
        });
        return list;
    }

    private static async Task<(List<JsonElement>, long)> ReadPageAsync(CommandContext context, string filter, int page, int size)
    {
        JsonElement response = await context.Api.GetAsync($"api/tokens?p={page}&size={size}{filter}", context.CancellationToken).ConfigureAwait(false);
        return ([.. Format.Items(response, "items")], Format.Number(response, "total"));
    }

    private static async Task<(List<JsonElement>, long)> ReadAllAsync(CommandContext context, string filter)
    {
        var items = new List<JsonElement>();
        long total;
        int page = 1;
        do
        {
            (List<JsonElement> batch, total) = await ReadPageAsync(context, filter, page++, PageSizeMax).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                break; // keys deleted while paging: stop rather than loop on a shrinking total
            }

            items.AddRange(batch);
        }
        while (items.Count < total);
        return (items, total);
    }
}
