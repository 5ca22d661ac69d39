using System.CommandLine;
using Quota.Ctl.Commands;

namespace Quota.Ctl.Cli;

/// <summary>The command tree, and the one place that turns a parse error into exit code 2.</summary>
internal static class QuotactlCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment,
        CancellationToken cancellationToken)
    {
        var globals = new GlobalOptions();
        var root = new RootCommand("quotactl: administer a Quota Engine host over its admin API");
        globals.AddTo(root);
        var runner = new CommandRunner(globals, stdout, stderr, environment);
        root.Add(UserCommands.Build(runner));
        root.Add(KeyCommands.Build(runner));
        root.Add(PolicyCommands.Build(runner));
        root.Add(LogCommands.Build(runner));
        root.Add(ImportCommand.Build(runner));
        root.Add(ClusterCommands.Build(runner));

        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine's own error action exits with 1, which scripts would read as an API error.
            foreach (System.CommandLine.Parsing.ParseError error in parse.Errors)
            {
                await stderr.WriteLineAsync($"error: {error.Message}").ConfigureAwait(false);
            }

            await stderr.WriteLineAsync("Run 'quotactl --help' (or '<command> --help') for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr };
        return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }
}
