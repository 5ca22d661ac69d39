using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Ctl.Tests;

/// <summary>What one quotactl command line printed and returned.</summary>
internal sealed record CtlResult(int ExitCode, string Stdout, string Stderr)
{
    public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// A real host (real Kestrel on loopback, real FASTER log and LiteDB in a temp directory) and quotactl's entry point
/// run in-process against it, with the admin key in a file (as the host writes it) and an empty environment.
/// </summary>
internal sealed class QuotactlRun : IAsyncDisposable
{
    private readonly TempDirectory directory;

    private QuotactlRun(TempDirectory directory, HostUnderTest host, string url)
    {
        this.directory = directory;
        Host = host;
        Url = url;
        KeyFile = Path.Combine(directory.Path, "admin.key");
        File.WriteAllText(KeyFile, HostUnderTest.AdminKey + "\n");
    }

    public HostUnderTest Host { get; }
    public string Url { get; }
    public string KeyFile { get; }
    public string Directory => directory.Path;

    /// <param name="settings">Host settings (e.g. "--Pricing:Groups:gold:MultiplierPerMille=1500").</param>
    public static async Task<QuotactlRun> StartAsync(params string[] settings)
    {
        var directory = new TempDirectory();
        HostUnderTest host = await HostUnderTest.StartAsync(Path.Combine(directory.Path, "data"), null, null, settings);
        return new QuotactlRun(directory, host, host.Admin.BaseAddress!.ToString());
    }

    /// <summary>quotactl with --url and --admin-key-file of this host prepended.</summary>
    public Task<CtlResult> RunAsync(params string[] args) => RunRawAsync(["--url", Url, "--admin-key-file", KeyFile, .. args]);

    public static async Task<CtlResult> RunRawAsync(string[] args, Func<string, string?>? environment = null, CancellationToken cancellationToken = default)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = await Program.RunAsync(args, TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), environment ?? (_ => null), cancellationToken);
        return new CtlResult(code, stdout.ToString(), stderr.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        directory.Dispose();
    }
}
