using System.CommandLine;
using Quota.Ctl.Http;

namespace Quota.Ctl.Cli;

/// <summary>
/// Runs a command's body with its context and maps every failure to an exit code: an API problem prints its
/// detail (and, with <c>--json</c>, the problem document on stdout) → 1; an unreachable host → 1; a usage error → 2.
/// </summary>
internal sealed class CommandRunner(GlobalOptions globals, TextWriter stdout, TextWriter stderr, Func<string, string?> environment)
{
    public void Handle(Command command, Func<ParseResult, CommandContext, Task<int>> body) =>
        command.SetAction((parse, cancellationToken) => RunAsync(parse, body, cancellationToken));

    private async Task<int> RunAsync(ParseResult parse, Func<ParseResult, CommandContext, Task<int>> body, CancellationToken cancellationToken)
    {
        var terminal = new Terminal(stdout, stderr, parse.GetValue(globals.Json));
        Uri? url = null;
        try
        {
            url = globals.ParseUrl(parse);
            using var api = new AdminClient(url, globals.ReadAdminKey(parse, environment));
            return await body(parse, new CommandContext(api, terminal, cancellationToken)).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            terminal.Problem($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (ApiException e)
        {
            terminal.Problem($"error: {e.Status} {e.Title}: {e.Detail}");
            if (terminal.Json && e.Body.Length > 0)
            {
                await stdout.WriteLineAsync(e.Body).ConfigureAwait(false);
            }

            return ExitCodes.ApiError;
        }
        catch (HttpRequestException e)
        {
            terminal.Problem($"error: cannot reach {url}: {e.Message}");
            return ExitCodes.ApiError;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            terminal.Problem($"error: {url} did not answer in time");
            return ExitCodes.ApiError;
        }
    }
}
