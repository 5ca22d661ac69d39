using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Quota.Ctl.Cli;
using Quota.Ctl.Http;
using Quota.Ctl.Import;
using Spectre.Console;

namespace Quota.Ctl.Commands;

/// <summary>
/// <c>quotactl import keys.csv</c>: creates one key per CSV row group (tools/quotactl/README.md lists the
/// columns), with a progress bar on stderr. A bad row is reported with its line and column and the other rows
/// still import; each key is created in one request, so a failed key leaves nothing behind. The report shows
/// every created key in full: like <c>keys create</c>, this is the only time it is shown. Exit code 1 when any
/// row failed.
/// </summary>
internal static class ImportCommand
{
    public static Command Build(CommandRunner runner)
    {
        var file = new Argument<FileInfo>("csv") { Description = "CSV of keys and policies" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check the file without creating anything" };
        var import = new Command("import", "Create keys and their policies from a CSV file") { file, dryRun };
        runner.Handle(import, async (parse, context) =>
        {
            List<ImportedKey> keys = ImportFile.Read(parse.GetValue(file)!.FullName);
            var created = new List<(int Line, JsonElement Token)>();
            if (!parse.GetValue(dryRun))
            {
                await CreateWithProgressAsync(context, keys, created).ConfigureAwait(false);
            }

            List<RowError> errors = [.. keys.Where(k => k.Error is not null).Select(k => k.Error!).OrderBy(e => e.Line)];
            Report(context.Terminal, keys.Count, created, errors, parse.GetValue(dryRun));
            return errors.Count == 0 ? ExitCodes.Ok : ExitCodes.ApiError;
        });
        return import;
    }

    private static async Task CreateWithProgressAsync(CommandContext context, List<ImportedKey> keys, List<(int, JsonElement)> created)
    {
        if (context.Terminal.Err.Profile.Capabilities.Interactive)
        {
            await context.Terminal.Err.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    ProgressTask task = progress.AddTask("Importing keys", maxValue: Math.Max(1, keys.Count));
                    await CreateAllAsync(context, keys, created, () => task.Increment(1)).ConfigureAwait(false);
                }).ConfigureAwait(false);
            return;
        }

        // Not a terminal (a pipe, a CI log): a bar cannot redraw in place, so print a line per tenth instead.
        int done = 0, step = Math.Max(1, keys.Count / 10);
        await CreateAllAsync(context, keys, created, () =>
        {
            if (++done % step == 0 || done == keys.Count)
            {
                context.Terminal.Problem($"Importing keys: {done}/{keys.Count}");
            }
        }).ConfigureAwait(false);
    }

    private static async Task CreateAllAsync(CommandContext context, List<ImportedKey> keys, List<(int, JsonElement)> created, Action advance)
    {
        string? unreachable = null;
        foreach (ImportedKey key in keys)
        {
            if (key.Error is null && unreachable is not null)
            {
                key.Error = new RowError(key.Line, null, $"not imported: {unreachable}");
            }
            else if (key.Error is null)
            {
                try
                {
                    created.Add((key.Line, await context.Api.PostAsync("api/tokens", key.Body!, context.CancellationToken).ConfigureAwait(false)));
                }
                catch (ApiException e)
                {
                    key.Error = key.ErrorAt(e.Field, e.Field is not null && e.Detail?.StartsWith(e.Field + ": ", StringComparison.Ordinal) == true
                        ? e.Detail[(e.Field.Length + 2)..] : $"{e.Status} {e.Title}: {e.Detail}");
                }
                catch (HttpRequestException e)
                {
                    // The keys created so far must still be reported (their full key is shown only once): stop, then report.
                    unreachable = $"the host could not be reached ({e.Message})";
                    key.Error = new RowError(key.Line, null, unreachable);
                }
            }

            advance();
        }
    }

    private static void Report(Terminal terminal, int total, List<(int Line, JsonElement Token)> created, List<RowError> errors, bool dryRun)
    {
        if (terminal.Json)
        {
            terminal.WriteJson(JsonSerializer.SerializeToElement(new
            {
                created = created.Select(c => new { line = c.Line, token = c.Token }),
                errors = errors.Select(e => new { line = e.Line, field = e.Field, message = e.Message }),
            }));
        }
        else if (created.Count > 0)
        {
            terminal.Line("Created keys (the full key is shown only this once; store it now):");
            var table = new Table().AddColumns("LINE", "ID", "NAME").AddColumn(new TableColumn("KEY").NoWrap()).AddColumns("STATUS", "POLICIES");
            foreach ((int line, JsonElement token) in created)
            {
                table.AddRow(new Text(line.ToString(CultureInfo.InvariantCulture)), new Text(Format.Text(token, "id")), new Text(Format.Text(token, "name")),
                    new Text(Format.Text(token, "key")), new Text(Format.Text(token, "display_status")), new Text(Format.PolicySummary(token)));
            }

            terminal.Write(table);
        }

        foreach (RowError error in errors)
        {
            terminal.Problem($"line {error.Line}{(error.Field is null ? "" : $", field {error.Field}")}: {error.Message}");
        }

        string summary = dryRun
            ? $"Checked {total} keys: {total - errors.Count} valid, {errors.Count} with errors (dry run: nothing created)."
            : $"Imported {created.Count} of {total} keys; {errors.Count} failed.";
        if (terminal.Json)
        {
            terminal.Problem(summary);
        }
        else
        {
            terminal.Line(summary);
        }
    }
}
