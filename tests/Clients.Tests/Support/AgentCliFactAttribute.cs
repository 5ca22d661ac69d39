using Quota.Host.Tests.Support;

namespace Quota.Clients.Tests.Support;

/// <summary>
/// A fact that needs an agent CLI (Claude Code or Codex) installed in tests/Clients.Tests/cli (<c>npm ci</c> there,
/// which .ci/run does when npm exists). Where node or the CLI is missing the test is skipped with a message saying what to do.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AgentCliFactAttribute : FactAttribute
{
    public AgentCliFactAttribute(string cli)
    {
        if (NodeClients.NodeVersion() is null)
        {
            Skip = "node is not on PATH: install Node.js (Debian: apt-get install -y nodejs npm) to run the agent CLI tests";
        }
        else if (!File.Exists(AgentClis.Binary(cli)))
        {
            Skip = $"{cli} is not installed: run `npm ci` in {AgentClis.Directory}";
        }
    }
}

/// <summary>
/// Runs Claude Code (<c>claude -p</c>) and Codex (<c>codex exec</c>) from tests/Clients.Tests/cli against a relay, each
/// in a fresh home and working directory, with nothing of this machine's environment but PATH (no key, proxy or
/// config of the machine's user reaches them, and nothing they write stays), stdin closed, and killed after a bound.
/// </summary>
internal static class AgentClis
{
    public const string Claude = "claude";
    public const string Codex = "codex";

    /// <summary>tests/Clients.Tests/cli in the source tree.</summary>
    public static string Directory { get; } = Path.Combine(Path.GetDirectoryName(NodeClients.Directory)!, "cli");

    public static string Binary(string cli) => Path.Combine(Directory, "node_modules", ".bin", cli);

    /// <summary><c>claude -p PROMPT</c> with <c>ANTHROPIC_BASE_URL</c> at the relay (its root: Claude Code appends /v1/messages).</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> ClaudeAsync(Uri relay, string key, string model, string prompt, TimeSpan bound) =>
        RunAsync(Claude, ["-p", prompt], new Dictionary<string, string>
        {
            ["ANTHROPIC_BASE_URL"] = relay.GetLeftPart(UriPartial.Authority),
            ["ANTHROPIC_API_KEY"] = key,
            ["ANTHROPIC_MODEL"] = model,
            ["DISABLE_AUTOUPDATER"] = "1", // nothing downloaded into the test's home
        }, bound);

    /// <summary><c>codex exec PROMPT</c> with a custom provider at the relay's /v1 speaking Responses, the key in its env_key.</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> CodexAsync(Uri relay, string key, string model, string prompt, TimeSpan bound) =>
        RunAsync(Codex,
        [
            "exec", "--skip-git-repo-check", "-c", "model_provider=relay",
            "-c", $"model_providers.relay={{name=\"relay\",base_url=\"{relay.GetLeftPart(UriPartial.Authority)}/v1\",env_key=\"RELAY_KEY\",wire_api=\"responses\"}}",
            "-m", model, prompt,
        ], new Dictionary<string, string> { ["RELAY_KEY"] = key }, bound);

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string cli, string[] arguments, Dictionary<string, string> environment, TimeSpan bound)
    {
        using var root = new TempDirectory();
        string home = Path.Combine(root.Path, "home"), work = Path.Combine(root.Path, "work");
        System.IO.Directory.CreateDirectory(home);
        System.IO.Directory.CreateDirectory(work);
        environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        environment["HOME"] = home;
        environment["CODEX_HOME"] = home;
        return await ChildProcess.RunAsync(Binary(cli), arguments, environment, work, bound, inherit: false);
    }
}
