using Quota.Clients.Tests.Support;
using Quota.Host.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Clients.Tests;

/// <summary>
/// The agent CLIs people put behind relays, each finishing one task through the relay to the fake provider, run as
/// a user would (their npm packages pinned in node/package.json, a throwaway HOME): Claude Code (<c>claude -p</c>,
/// <c>ANTHROPIC_BASE_URL</c> at the relay, streams <c>/v1/messages?beta=true</c>) and Codex (<c>codex exec</c>, a custom
/// provider with <c>wire_api = "responses"</c>). The key is charged exactly what the fake provider reported, summed
/// over every call the CLI made (claude-test and gpt-test: 1 unit per input token, 5 per output token).
/// </summary>
public sealed class AgentCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(120);
    private readonly TempDirectory home = new();
    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync(RelayUnderTest.WithClaude);

    public async Task DisposeAsync()
    {
        await relay.DisposeAsync();
        home.Dispose();
    }

    [NodeFact("@anthropic-ai/claude-code")]
    public async Task ClaudeCode_FinishesATask_AndTheKeyIsChargedWhatTheProviderReported()
    {
        (int id, string key) = await relay.KeyAsync();
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = home.Path,
            ["ANTHROPIC_BASE_URL"] = relay.Host.Client.BaseAddress!.ToString().TrimEnd('/'),
            ["ANTHROPIC_API_KEY"] = key,
            ["ANTHROPIC_MODEL"] = "claude-test",
            ["ANTHROPIC_SMALL_FAST_MODEL"] = "claude-test",
            ["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = "claude-test",
            ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
            ["DISABLE_AUTOUPDATER"] = "1",
        };

        string reply = await RunAsync("claude", ["-p", "Say something nice"], environment);

        Assert.Contains("This is a deterministic reply", reply, StringComparison.Ordinal);
        await AssertChargedWhatWasReportedAsync(id);
    }

    [NodeFact("@openai/codex")]
    public async Task Codex_FinishesATask_AndTheKeyIsChargedWhatTheProviderReported()
    {
        (int id, string key) = await relay.KeyAsync();
        string config = Path.Combine(home.Path, ".codex");
        Directory.CreateDirectory(config);
        await File.WriteAllTextAsync(Path.Combine(config, "config.toml"), $"""
            model = "gpt-test"
            model_provider = "relay"

            [model_providers.relay]
            name = "relay"
            base_url = "{relay.Endpoint}"
            env_key = "RELAY_KEY"
            wire_api = "responses"
            """);
        var environment = new Dictionary<string, string> { ["HOME"] = home.Path, ["CODEX_HOME"] = config, ["RELAY_KEY"] = key };

        string reply = await RunAsync("codex", ["exec", "--skip-git-repo-check", "Say something nice"], environment);

        Assert.Contains("This is a deterministic reply", reply, StringComparison.Ordinal);
        await AssertChargedWhatWasReportedAsync(id);
    }

    private async Task<string> RunAsync(string cli, string[] arguments, Dictionary<string, string> environment)
    {
        string executable = Path.Combine(NodeClients.Directory, "node_modules", ".bin", cli);
        (int exit, string stdout, string stderr) = await NodeClients.RunAsync(arguments, environment, RunBound, executable, home.Path);
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.True(exit == 0, $"{cli} exited {exit}\n{stdout}\n{stderr}");
        return stdout;
    }

    private async Task AssertChargedWhatWasReportedAsync(int id)
    {
        (long input, long outputTokens) = await relay.ReportedAsync();
        Assert.True(input > 0 && outputTokens > 0, "the CLI's calls reached the fake provider");
        long charged = 0;
        for (int attempt = 0; attempt < 100 && (charged = await relay.UsedQuotaAsync(id)) != input + (5 * outputTokens); attempt++)
        {
            await Task.Delay(50); // a call the CLI abandoned is settled when the relay finishes reading it
        }

        Assert.Equal(input + (5 * outputTokens), charged);
    }
}
