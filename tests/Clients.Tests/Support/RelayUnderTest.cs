using System.ClientModel;
using System.Text.Json;
using OpenAI;
using Quota.Host.Tests.Support;

namespace Quota.Clients.Tests.Support;

/// <summary>
/// The relay as a client application sees it: the real host on a loopback port, tools/FakeUpstream as the provider,
/// and keys made through the admin API. Prices are the host's defaults (gpt-4o-mini: 75,000 / 300,000 units per 1M
/// input / output tokens; demo-per-call: 15 units a call).
/// </summary>
internal sealed class RelayUnderTest : IAsyncDisposable
{
    private readonly TempDirectory data = new();
    private UpstreamUnderTest upstream = null!;

    public HostUnderTest Host { get; private set; } = null!;

    /// <summary>The fake provider behind the relay (what it was sent, what it answered).</summary>
    public UpstreamUnderTest Upstream => upstream;

    /// <summary>The OpenAI-compatible base address, e.g. http://127.0.0.1:43121/v1.</summary>
    public Uri Endpoint => new(Host.Client.BaseAddress!, "/v1");

    public static Task<RelayUnderTest> StartAsync() => StartAsync(_ => []);

    /// <param name="settings">Host settings given the fake provider's base URL (e.g. an Anthropic provider at it).</param>
    /// <param name="fake">The fake provider's settings, e.g. "ReportCache=true" (prefixed with --Fake:).</param>
    public static async Task<RelayUnderTest> StartAsync(Func<string, string[]> settings, params string[] fake)
    {
        var relay = new RelayUnderTest();
        relay.upstream = await UpstreamUnderTest.StartAsync(fake.Select(f => "--Fake:" + f).ToArray());
        relay.Host = await HostUnderTest.StartAsync(relay.data.Path, relay.upstream.BaseUrl, null, settings(relay.upstream.BaseUrl).Select(s => "--" + s).ToArray());
        return relay;
    }

    /// <summary>The fake provider also as an Anthropic provider for <c>claude-*</c>; claude-test and gpt-test at 1 unit per input and 5 per output token.</summary>
    public static string[] WithClaude(string baseUrl) =>
    [
        "Relay:Providers:claude:Protocol=anthropic", $"Relay:Providers:claude:BaseUrl={baseUrl}", "Relay:Providers:claude:ApiKey=sk-ant-provider",
        "Relay:Providers:claude:Models:0=claude-*",
        "Pricing:Models:claude-test:InputPerMillion=1000000", "Pricing:Models:claude-test:OutputPerMillion=5000000",
        "Pricing:Models:gpt-test:InputPerMillion=1000000", "Pricing:Models:gpt-test:OutputPerMillion=5000000",
    ];

    /// <summary>The client the README shows: the official SDK with its endpoint set to the relay.</summary>
    public OpenAIClient OpenAiClient(string key) => new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = Endpoint });

    /// <summary>A key with plenty of budget and no policy.</summary>
    public Task<(int Id, string Key)> KeyAsync() => KeyAsync(new { });

    /// <summary>A key whose daily policy (10 units) is exhausted by one demo-per-call request.</summary>
    public async Task<string> ExhaustedDailyKeyAsync()
    {
        (_, string key) = await KeyAsync(new { quota_policy = new { period_mode = "daily", quota = 10, time_zone = "Europe/Berlin" } });
        using HttpResponseMessage first = await Host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(System.Net.HttpStatusCode.OK, first.StatusCode);
        return key;
    }

    /// <summary>A key whose owner's wallet holds 1 unit: every request is refused with 403 insufficient_user_quota.</summary>
    public async Task<string> EmptyWalletKeyAsync()
    {
        int user = await Host.CreateUserAsync(quota: 1);
        (_, string key) = await Host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000 });
        return key;
    }

    public async Task<long> UsedQuotaAsync(int tokenId) => (await Host.GetJsonAsync($"/api/tokens/{tokenId}")).GetProperty("used_quota").GetInt64();

    /// <summary>A key with plenty of budget; <paramref name="extra"/> merged into its body (a policy, …).</summary>
    public async Task<(int Id, string Key)> KeyAsync(object extra)
    {
        int user = await Host.CreateUserAsync();
        var body = JsonSerializer.SerializeToNode(extra)!.AsObject();
        body["user_id"] = user;
        body["remain_quota"] = 1_000_000;
        return await Host.CreateTokenAsync(body);
    }

    /// <summary>Units the relay charges for a gpt-4o-mini call (Pricing: ceil of the per-million sum).</summary>
    public static long Gpt4oMiniPrice(long promptTokens, long completionTokens) => ((promptTokens * 75_000) + (completionTokens * 300_000) + 999_999) / 1_000_000;

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await upstream.DisposeAsync();
        data.Dispose();
    }
}
