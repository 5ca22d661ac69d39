using System.Globalization;
using System.Text.Json;
using Quota.Clients.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Clients.Tests;

/// <summary>
/// The agent CLIs people put behind relays — Claude Code (<c>claude -p</c>, Anthropic Messages) and Codex (<c>codex
/// exec</c>, OpenAI Responses) — each finish a task through the real relay with the fake provider behind it. The
/// provider reports cache reads and writes and reasoning (<c>Fake:ReportCache</c>), every kind at its own price, and
/// the key is charged exactly what the provider reported; the relay key never reaches the provider. A key whose
/// 5-hour window is spent makes each CLI fail at once, without retrying, with what the relay said. Each run's exit,
/// time and output are printed for the record.
/// </summary>
public sealed class AgentCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Claude Code's default model: with it, Claude Code also puts <c>role: system</c> entries inside <c>messages</c>.</summary>
    private const string ClaudeModel = "claude-opus-5-5";
    private const string CodexModel = "gpt-5.5";
    private const string AnthropicKey = "sk-ant-provider-0123456789";
    private const string OpenAiKey = "sk-openai-provider-0123456789";

    /// <summary>A CLI's start, one request and its exit take seconds; on a loaded machine, tens of them.</summary>
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(180);

    /// <summary>
    /// Units per 1M tokens, a different price for every kind, so a token charged as the wrong kind changes the sum
    /// (and a cache read at 0.1 unit makes the total fractional: the charge is its ceiling).
    /// </summary>
    private static readonly Dictionary<string, long> ClaudePrices = new()
    {
        ["InputPerMillion"] = 1_000_000, ["CacheReadPerMillion"] = 100_000, ["CacheWritePerMillion"] = 1_250_000,
        ["CacheWrite1hPerMillion"] = 2_000_000, ["OutputPerMillion"] = 5_000_000,
    };

    private static readonly Dictionary<string, long> CodexPrices = new()
    {
        ["InputPerMillion"] = 1_000_000, ["CacheReadPerMillion"] = 100_000, ["OutputPerMillion"] = 5_000_000, ["ReasoningPerMillion"] = 7_000_000,
    };

    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync(Settings, "ReportCache=true");

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private static string[] Settings(string fakeBaseUrl) =>
    [
        "Relay:Providers:anthropic:Protocol=anthropic", $"Relay:Providers:anthropic:BaseUrl={fakeBaseUrl}",
        $"Relay:Providers:anthropic:ApiKey={AnthropicKey}", "Relay:Providers:anthropic:Models:0=claude-*",
        $"Relay:Upstream:ApiKey={OpenAiKey}",
        .. ClaudePrices.Select(price => $"Pricing:Models:{ClaudeModel}:{price.Key}={price.Value}"),
        .. CodexPrices.Select(price => $"Pricing:Models:{CodexModel}:{price.Key}={price.Value}"),
    ];

    [AgentCliFact(AgentClis.Claude)]
    public async Task ClaudeCode_FinishesATask_AndTheKeyIsChargedEveryTokenKindTheProviderReported()
    {
        (int token, string key) = await KeyAsync(new { });

        (int exit, string stdout, string stderr) = await RecordedAsync(AgentClis.ClaudeAsync(relay.Host.Client.BaseAddress!, key, ClaudeModel, "say hi", RunBound));

        Assert.True(exit == 0, $"claude exited {exit}\n{stdout}\n{stderr}");
        Assert.Contains("This is a deterministic reply", stdout, StringComparison.Ordinal);
        Dictionary<string, string> sent = await relay.Upstream.LastAsync();
        Assert.Equal(1, await relay.Upstream.RequestsAsync());
        Assert.Equal("/v1/messages?beta=true", sent[":path"]);
        Assert.Equal(AnthropicKey, sent["x-api-key"]);
        Assert.Contains("claude-code-", sent["anthropic-beta"], StringComparison.Ordinal);
        Assert.Contains("\"role\":\"system\"", sent[":body"], StringComparison.Ordinal); // forwarded as sent (and counted in the estimate)
        Assert.DoesNotContain(sent, header => header.Value.Contains(key, StringComparison.Ordinal));

        ReportedUsage reported = ReportedUsage.OfMessagesStream(sent[":reply"]);
        Assert.True(reported.CacheRead > 0 && reported.CacheWrite5m > 0 && reported.CacheWrite1h > 0, sent[":reply"]);
        long expected = reported.Price(ClaudePrices);
        JsonElement row = await ConsumeRowAsync(token);
        Assert.Equal(expected, (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
        Assert.Equal(expected, row.GetProperty("quota").GetInt64());
        reported.AssertRecorded(row, "messages", "anthropic");
    }

    [AgentCliFact(AgentClis.Codex)]
    public async Task Codex_FinishesATask_AndTheKeyIsChargedEveryTokenKindTheProviderReported()
    {
        (int token, string key) = await KeyAsync(new { });

        (int exit, string stdout, string stderr) = await RecordedAsync(AgentClis.CodexAsync(relay.Host.Client.BaseAddress!, key, CodexModel, "say hi", RunBound));

        Assert.True(exit == 0, $"codex exited {exit}\n{stdout}\n{stderr}");
        Assert.Contains("This is a deterministic reply", stdout, StringComparison.Ordinal);
        Dictionary<string, string> sent = await relay.Upstream.LastAsync();
        Assert.Equal(1, await relay.Upstream.RequestsAsync());
        Assert.Equal("/v1/responses", sent[":path"]);
        Assert.Equal($"Bearer {OpenAiKey}", sent["authorization"]);
        Assert.DoesNotContain(sent, header => header.Value.Contains(key, StringComparison.Ordinal));

        ReportedUsage reported = ReportedUsage.OfResponsesStream(sent[":reply"]);
        Assert.True(reported.CacheRead > 0 && reported.Reasoning > 0, sent[":reply"]);
        long expected = reported.Price(CodexPrices);
        JsonElement row = await ConsumeRowAsync(token);
        Assert.Equal(expected, (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
        Assert.Equal(expected, row.GetProperty("quota").GetInt64());
        reported.AssertRecorded(row, "responses", "default");
    }

    /// <summary>
    /// Claude Code is told this relay's 5-hour window in the unified headers it reads for its status line and warnings
    /// (recorded by a pass-through proxy between it and the relay): a window of 4 requests, one spent before, reads 0.25
    /// on its streamed answer (the headers leave before the stream is settled), and the status-line endpoint reads 50 %
    /// after it. Claude Code 2.1.337 with an API key emits no <c>rate_limit_event</c> in its stream-json output (that is
    /// for subscription accounts), so the headers are where it shows.
    /// </summary>
    [AgentCliFact(AgentClis.Claude)]
    public async Task ClaudeCode_IsToldTheRelaysFiveHourUtilization_AndTheStatusLineEndpointFollowsIt()
    {
        (int token, string key) = await KeyAsync(new { quota_policy = new { period_mode = "preset_5h", quota = 4, metric = "requests" } });
        using (HttpResponseMessage first = await MessageAsync(key))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, first.StatusCode);
        }

        await ConsumeRowAsync(token);
        await using RecordingProxy proxy = await RecordingProxy.StartAsync(relay.Host.Client.BaseAddress!);

        (int exit, string stdout, string stderr) = await RecordedAsync(AgentClis.ClaudeAsync(proxy.BaseAddress, key, ClaudeModel, "say hi", RunBound));

        Assert.True(exit == 0, $"claude exited {exit}\n{stdout}\n{stderr}");
        RecordingProxy.Answer answer = Assert.Single(proxy.Answers, a => a.PathAndQuery.StartsWith("/v1/messages?", StringComparison.Ordinal));
        output.WriteLine(string.Join("\n", answer.Headers.Where(h => h.Key.StartsWith("anthropic-ratelimit-unified-", StringComparison.Ordinal)).Select(h => $"{h.Key}: {h.Value}")));
        Assert.Equal(200, answer.Status);
        Assert.Equal("allowed", answer.Headers["anthropic-ratelimit-unified-status"]);
        Assert.Equal("0.25", answer.Headers["anthropic-ratelimit-unified-5h-utilization"]);
        Assert.Equal("five_hour", answer.Headers["anthropic-ratelimit-unified-representative-claim"]);
        long reset = (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy").GetProperty("next_reset_at").GetInt64();
        Assert.Equal(reset.ToString(CultureInfo.InvariantCulture), answer.Headers["anthropic-ratelimit-unified-5h-reset"]);
        await AssertUsedRequestsAsync(token, 2);
        using var usage = new HttpRequestMessage(HttpMethod.Get, new Uri(proxy.BaseAddress, "/api/oauth/usage"));
        usage.Headers.Add("x-api-key", key);
        using HttpResponseMessage statusLine = await relay.Host.Client.SendAsync(usage);
        JsonElement fiveHour = JsonDocument.Parse(await statusLine.Content.ReadAsStringAsync()).RootElement.GetProperty("five_hour");
        Assert.Equal(50, fiveHour.GetProperty("utilization").GetDouble());
    }

    /// <summary>
    /// Claude Code prints the relay's own sentence (from Anthropic's error object): which limit, and when it recovers.
    /// It sends one request: the relay's <c>x-should-retry: false</c> stops the retries it makes for other 429s
    /// (against a 429 without it, Claude Code 2.1.337 retried for over a minute with backoff).
    /// </summary>
    [AgentCliFact(AgentClis.Claude)]
    public async Task ClaudeCode_WithItsFiveHourWindowSpent_FailsAtOnce_ShowingTheRelaysMessage_AndIsNotCharged()
    {
        (int token, string key, long spent) = await SpentFiveHourKeyAsync();
        long refusals = await RefusalsAsync();

        (int exit, string stdout, string stderr) = await RecordedAsync(AgentClis.ClaudeAsync(relay.Host.Client.BaseAddress!, key, ClaudeModel, "say hi", RunBound));

        Assert.True(exit != 0 && exit != -1, $"claude exited {exit}\n{stdout}\n{stderr}");
        Assert.Contains("Request rejected (429)", stdout, StringComparison.Ordinal);
        Assert.Contains($"API key periodic quota is exhausted and is expected to automatically recover around {await RecoveryAsync(token)}", stdout, StringComparison.Ordinal);
        await AssertRefusedOnceAsync(refusals, token, spent);
    }

    /// <summary>
    /// Codex 0.171 shows the body of a 429 only when its error type is ChatGPT's <c>usage_limit_reached</c>; for any
    /// other 429 it prints "exceeded retry limit, last status: 429 Too Many Requests" (without retrying).
    /// </summary>
    [AgentCliFact(AgentClis.Codex)]
    public async Task Codex_WithItsFiveHourWindowSpent_FailsAtOnce_WithTheStatus_AndIsNotCharged()
    {
        (int token, string key, long spent) = await SpentFiveHourKeyAsync();
        long refusals = await RefusalsAsync();

        (int exit, string stdout, string stderr) = await RecordedAsync(AgentClis.CodexAsync(relay.Host.Client.BaseAddress!, key, CodexModel, "say hi", RunBound));

        Assert.True(exit != 0 && exit != -1, $"codex exited {exit}\n{stdout}\n{stderr}");
        Assert.Contains("429 Too Many Requests", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("This is a deterministic reply", stdout, StringComparison.Ordinal);
        await AssertRefusedOnceAsync(refusals, token, spent);
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RecordedAsync(Task<(int Exit, string Stdout, string Stderr)> run)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        (int exit, string stdout, string stderr) = await run;
        output.WriteLine($"exit {exit} after {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        return (exit, stdout, stderr);
    }

    /// <summary>A key with budget for a CLI's estimate (Claude Code asks for up to 128,000 output tokens).</summary>
    private async Task<(int Id, string Key)> KeyAsync(object policy)
    {
        var body = JsonSerializer.SerializeToNode(policy)!.AsObject();
        body["user_id"] = await relay.Host.CreateUserAsync(quota: 100_000_000);
        body["remain_quota"] = 10_000_000;
        return await relay.Host.CreateTokenAsync(body);
    }

    /// <summary>A key whose 5-hour window (10 units) one small Messages request has spent; returns what it was charged.</summary>
    private async Task<(int Id, string Key, long Spent)> SpentFiveHourKeyAsync()
    {
        (int token, string key) = await KeyAsync(new { quota_policy = new { period_mode = "preset_5h", quota = 10 } });
        using HttpResponseMessage first = await MessageAsync(key);
        Assert.Equal(System.Net.HttpStatusCode.OK, first.StatusCode);
        await ConsumeRowAsync(token);
        return (token, key, (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }

    /// <summary>One small Messages request of the key, straight to the relay.</summary>
    private async Task<HttpResponseMessage> MessageAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent($$"""{"model":"{{ClaudeModel}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", key);
        return await relay.Host.Client.SendAsync(request);
    }

    /// <summary>The key's requests policy has counted <paramref name="expected"/> requests, once the relay settled them (within ~30 s).</summary>
    private async Task AssertUsedRequestsAsync(int token, long expected)
    {
        long used = 0;
        for (int attempt = 0; attempt < 600 && used != expected; attempt++)
        {
            used = (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy").GetProperty("used_quota").GetInt64();
            await Task.Delay(used == expected ? 0 : 50);
        }

        Assert.Equal(expected, used);
    }

    /// <summary>The relay refused the CLI's one request: nothing more reached the provider and nothing more was charged.</summary>
    private async Task AssertRefusedOnceAsync(long refusalsBefore, int token, long spent)
    {
        Assert.Equal(refusalsBefore + 1, await RefusalsAsync());
        Assert.Equal(1, await relay.Upstream.RequestsAsync()); // the request that spent the window
        Assert.Equal(spent, (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }

    /// <summary>The relay's count of requests refused by an exhausted policy (<c>/metrics</c>).</summary>
    private async Task<long> RefusalsAsync()
    {
        const string Series = "quota_decisions_total{otel_scope_name=\"Quota.Host\",result=\"PolicyExhausted\"} ";
        string line = (await relay.Host.Client.GetStringAsync("/metrics")).Split('\n').FirstOrDefault(l => l.StartsWith(Series, StringComparison.Ordinal)) ?? Series + "0";
        return long.Parse(line[Series.Length..].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>The key's recovery time as the relay words it (ISO 8601 in the policy's zone, UTC here).</summary>
    private async Task<string> RecoveryAsync(int token)
    {
        long reset = (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy").GetProperty("next_reset_at").GetInt64();
        return DateTimeOffset.FromUnixTimeSeconds(reset).ToString("yyyy-MM-dd'T'HH:mm:ssK", CultureInfo.InvariantCulture).Replace("Z", "+00:00", StringComparison.Ordinal);
    }

    /// <summary>The key's one consume row, once the request has settled and the row is written.</summary>
    private async Task<JsonElement> ConsumeRowAsync(int token)
    {
        for (int attempt = 0; attempt < 600; attempt++)
        {
            JsonElement items = (await relay.Host.GetJsonAsync($"/api/logs?token_id={token}&type=consume")).GetProperty("items");
            if (items.GetArrayLength() > 0 && (await relay.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64() == 0)
            {
                return Assert.Single(items.EnumerateArray());
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no consume row for key {token} after 30 s");
    }
}
