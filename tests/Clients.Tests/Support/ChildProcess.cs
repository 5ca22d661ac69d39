using System.Diagnostics;

namespace Quota.Clients.Tests.Support;

/// <summary>Runs a client program to its end, with a bound: its exit code and output, or killed (with its children) when the bound passes.</summary>
internal static class ChildProcess
{
    /// <param name="environment">Set on top of this process's environment, or, with <paramref name="inherit"/> false, the whole environment.</param>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(
        string fileName, IEnumerable<string> arguments, IDictionary<string, string> environment, string workingDirectory, TimeSpan bound, bool inherit = true)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (!inherit)
        {
            start.Environment.Clear();
        }

        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        process.StandardInput.Close(); // no input: a program that would read a prompt from stdin sees its end at once
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(bound);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, await stdout, await stderr + $"\n(killed after {bound.TotalSeconds} s)");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
