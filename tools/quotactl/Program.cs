using Quota.Ctl.Cli;

namespace Quota.Ctl;

/// <summary>quotactl: the admin command line of the Quota Engine host. See tools/quotactl/README.md.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>
    /// Runs one command line with the given output writers (tests capture them). Exit codes: 0 ok, 1 the API
    /// refused or could not be reached (the problem detail is printed), 2 usage error.
    /// </summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        QuotactlCommand.RunAsync(args, stdout, stderr, Environment.GetEnvironmentVariable, cancellationToken);

    /// <summary>As <see cref="RunAsync(string[], TextWriter, TextWriter, CancellationToken)"/>, with the environment given (tests).</summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken = default) =>
        QuotactlCommand.RunAsync(args, stdout, stderr, environment, cancellationToken);
}
