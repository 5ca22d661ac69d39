using System.Text.Json;
using Quota.Clients.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Clients.Tests;

/// <summary>
/// The official openai npm package (version pinned in node/package-lock.json) against the relay, from
/// node/flows.mjs: the same flows as the .NET tests, with attempts counted through a wrapped fetch. The script
/// checks each step and exits non-zero naming the failed checks; the run is bounded by a kill after a minute.
/// </summary>
public sealed class NodeClientTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(60);
    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync();

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private async Task<JsonElement> RunAsync(string mode, Dictionary<string, string> environment)
    {
        (int exit, string stdout, string stderr) = await NodeClients.RunAsync(["flows.mjs", mode], environment, RunBound);
        output.WriteLine(stdout);
        Assert.True(exit == 0, $"node flows.mjs {mode} exited {exit}\n{stdout}\n{stderr}");
        JsonElement report = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(0, report.GetProperty("failures").GetArrayLength());
        return report.GetProperty("result");
    }

    [NodeFact]
    public async Task OpenAiNpm_ChatStreamEmbeddingsModels_AndRefusalsThatAreNotRetried()
    {
        (_, string key) = await relay.KeyAsync();
        var environment = new Dictionary<string, string>
        {
            ["RELAY_URL"] = relay.Endpoint.ToString(),
            ["KEY"] = key,
            ["EXHAUSTED_KEY"] = await relay.ExhaustedDailyKeyAsync(),
            ["EMPTY_WALLET_KEY"] = await relay.EmptyWalletKeyAsync(),
        };

        JsonElement result = await RunAsync("relay", environment);

        JsonElement exhausted = result.GetProperty("exhausted");
        Assert.Equal("token_quota_policy_exhausted", exhausted.GetProperty("code").GetString());
        Assert.Equal(1, exhausted.GetProperty("attempts").GetInt32());
        Assert.Equal("false", exhausted.GetProperty("shouldRetry").GetString());
        Assert.Equal(JsonValueKind.Null, exhausted.GetProperty("retryAfter").ValueKind);
        Assert.Equal(1, result.GetProperty("emptyWallet").GetProperty("attempts").GetInt32());
    }

    [NodeFact]
    public async Task OpenAiNpm_RetriesA429Twice_UnlessToldXShouldRetryFalse_AndIgnoresARetryAfterAboveAMinute()
    {
        JsonElement result = await RunAsync("retry", []);

        Assert.Equal(3, result.GetProperty("none").GetProperty("attempts").GetInt32());
        Assert.Equal(1, result.GetProperty("shouldRetryFalse").GetProperty("attempts").GetInt32());
        Assert.Equal(3, result.GetProperty("farRetryAfter").GetProperty("attempts").GetInt32());
        Assert.Equal(3, result.GetProperty("shortRetryAfter").GetProperty("attempts").GetInt32());
    }

    [NodeFact("@anthropic-ai/sdk")]
    public async Task AnthropicNpm_MessagesAndStream_ChargedWhatTheProviderReported_AndARefusalIsARateLimitError()
    {
        await using RelayUnderTest anthropic = await RelayUnderTest.StartAsync(RelayUnderTest.WithClaude);
        (int id, string key) = await anthropic.KeyAsync();
        (_, string limited) = await anthropic.KeyAsync(new { quota_policy = new { period_mode = "daily", quota = 1, metric = "requests", time_zone = "Europe/Berlin" } });
        var environment = new Dictionary<string, string>
        {
            ["RELAY_ROOT"] = anthropic.Host.Client.BaseAddress!.ToString().TrimEnd('/'),
            ["KEY"] = key,
            ["LIMITED_KEY"] = limited,
        };

        JsonElement result = await RunAsync("anthropic", environment);

        long charged = 0;
        foreach (string call in (string[])["message", "stream"])
        {
            JsonElement usage = result.GetProperty(call).GetProperty("usage");
            charged += usage.GetProperty("input_tokens").GetInt64() + (5 * usage.GetProperty("output_tokens").GetInt64());
        }

        Assert.Equal(charged, await anthropic.UsedQuotaAsync(id));
        JsonElement refused = result.GetProperty("refused");
        Assert.Equal(429, refused.GetProperty("status").GetInt32());
        Assert.Equal("rate_limit_error", refused.GetProperty("type").GetString());
        Assert.Equal("token_quota_policy_exhausted", refused.GetProperty("code").GetString());
    }
}
