using System.Net;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// <c>POST /v1/messages</c> (docs/relay.md): charged exactly what the provider reported, streamed or not; refused in
/// Anthropic's error shape with Anthropic's rate-limit headers; every failure path of the chat relay holds.
/// </summary>
public sealed class MessagesTests
{
    private const string Message = ProviderTests.Message;
    private const string Stream = """{"model":"claude-test","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"Say something nice"}]}""";

    [Fact]
    public async Task ANonStreamReply_IsChargedItsUsage_AndTheRowRecordsProtocolAndProvider()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Message);
        JsonElement usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        long input = usage.GetProperty("input_tokens").GetInt64(), output = usage.GetProperty("output_tokens").GetInt64();
        Assert.Equal(input + (5 * output), (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        string row = (await rig.ConsumeRowsAsync(token))[0].ToString(); // the log writer stores rows shortly after the settle
        Assert.Contains("\"protocol\":\"messages\"", row, StringComparison.Ordinal);
        Assert.Contains("\"provider\":\"claude\"", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStream_IsChargedItsCumulativeUsage_OnceNotSummed()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Stream);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement last = Events(body).Last(e => e.GetProperty("type").GetString() == "message_delta").GetProperty("usage");
        long input = last.GetProperty("input_tokens").GetInt64(), output = last.GetProperty("output_tokens").GetInt64();
        Assert.Equal(input + (5 * output), (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal(input, row.GetProperty("prompt_tokens").GetInt64()); // message_start and message_delta both carry it: counted once
    }

    [Theory]
    [InlineData(null, 1500)]
    [InlineData(2000, 2000)]
    public async Task TheEstimate_IsThePromptCountedAsForChat_TimesTheModelsSafetyFactor(int? configured, int perMille)
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, url =>
            [.. ProviderTests.Claude(url), .. configured is { } f ? new[] { $"Pricing:Models:claude-test:PromptSafetyPerMille={f}" } : []]);
        (int token, string key) = await rig.KeyAsync();
        string messages = """[{"role":"user","content":"Summarise the plot of a long novel about a lighthouse keeper, please."}]""";

        using HttpResponseMessage asChat = await rig.PostAsync(key, $$"""{"model":"gpt-test","max_tokens":5,"messages":{{messages}}}""");
        await asChat.Content.ReadAsStringAsync();
        await rig.SettledTokenAsync(token);
        using HttpResponseMessage asMessages = await rig.MessagesAsync(key, $$"""{"model":"claude-test","max_tokens":5,"messages":{{messages}}}""");
        await asMessages.Content.ReadAsStringAsync();

        JsonElement[] rows = await rig.ConsumeRowsAsync(token, 2); // newest first
        long counted = rows[1].GetProperty("params").GetProperty("estimate_prompt_tokens").GetInt64();
        Assert.Equal(((counted * perMille) + 999) / 1000, rows[0].GetProperty("params").GetProperty("estimate_prompt_tokens").GetInt64());
    }

    [Fact]
    public async Task MaxTokensAbsent_Is400InAnthropicsShape_BeforeAnythingIsReserved()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, """{"model":"claude-test","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        JsonElement error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("invalid_request", error.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("max_tokens:", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
    }

    [Fact]
    public async Task ABearerKeyWorksToo_AndAWrongKeyIs401InAnthropicsShape()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await rig.KeyAsync();

        using HttpResponseMessage bearer = await rig.PostAsync(key, Message, "/v1/messages");
        using HttpResponseMessage wrong = await rig.MessagesAsync("sk-not-a-key", Message);

        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        JsonElement error = JsonDocument.Parse(await wrong.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task ARefusal_IsARateLimitErrorWithAnthropicsHeaders_TheIetfOnes_AndRetryAfter()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await rig.KeyAsync(policy: new { period_mode = "custom", custom_minutes = 1, quota = 1, metric = "requests" });

        using HttpResponseMessage first = await rig.MessagesAsync(key, Message);
        using HttpResponseMessage refused = await rig.MessagesAsync(key, Message);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("1", first.Headers.GetValues("anthropic-ratelimit-requests-limit").Single());
        Assert.Equal("0", first.Headers.GetValues("anthropic-ratelimit-requests-remaining").Single());
        Assert.True(DateTimeOffset.TryParse(first.Headers.GetValues("anthropic-ratelimit-requests-reset").Single(), out _));
        Assert.False(first.Headers.Contains("x-ratelimit-limit-requests"));
        Assert.Equal((HttpStatusCode)429, refused.StatusCode);
        JsonElement error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Equal("token_quota_policy_exhausted", error.GetProperty("code").GetString());
        Assert.True(refused.Headers.Contains("RateLimit"));
        Assert.True(refused.Headers.Contains("anthropic-ratelimit-requests-remaining"));
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    [Fact]
    public async Task CountTokens_IsForwarded_NotCharged_ButNeedsAKey()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage counted = await rig.MessagesAsync(key, """{"model":"claude-test","messages":[{"role":"user","content":"hi"}]}""", "/v1/messages/count_tokens");
        using HttpResponseMessage anonymous = await rig.MessagesAsync("sk-wrong", """{"model":"claude-test","messages":[{"role":"user","content":"hi"}]}""", "/v1/messages/count_tokens");

        Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
        Assert.True(JsonDocument.Parse(await counted.Content.ReadAsStringAsync()).RootElement.GetProperty("input_tokens").GetInt64() > 0);
        Assert.Equal(ProviderTests.ProviderKey, (await rig.Upstream.LastAsync())["x-api-key"]);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(1, await rig.Upstream.RequestsAsync());
        Assert.Equal(0, (await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData("echo_auth_401", HttpStatusCode.BadGateway)]
    [InlineData("status_500", HttpStatusCode.BadGateway)]
    [InlineData("status_400", HttpStatusCode.BadRequest)]
    public async Task CountTokens_UpstreamErrors_Are502OrPassedOn_NeverWithTheProvidersKey(string misbehave, HttpStatusCode status)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"], ProviderTests.Claude);
        (_, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, """{"model":"claude-test","messages":[{"role":"user","content":"hi"}]}""", "/v1/messages/count_tokens");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, response.StatusCode);
        Assert.DoesNotContain(ProviderTests.ProviderKey, body, StringComparison.Ordinal);
        Assert.DoesNotContain("/srv/secret", body, StringComparison.Ordinal);
        if (status == HttpStatusCode.BadGateway)
        {
            Assert.Equal("upstream_error", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Theory]
    [InlineData("html")]
    [InlineData("broken_json")]
    [InlineData("status_500")]
    [InlineData("echo_auth_401")]
    public async Task ABrokenNonStreamReply_Is502InAnthropicsShape_AndRefunded(string misbehave)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"], ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Message);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        JsonElement error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("api_error", error.GetProperty("type").GetString());
        Assert.Equal("upstream_error", error.GetProperty("code").GetString());
        Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData("broken_line")]
    [InlineData("stall")]
    public async Task AStreamThatBreaksOrStalls_EndsWithAnAnthropicErrorEvent_AndSettlesWhatWasProduced(string misbehave)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}", "StallMs=30000"],
            url => [.. ProviderTests.Claude(url), "Relay:Upstream:IdleTimeoutSeconds=1"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Stream);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.True(row.GetProperty("prompt_tokens").GetInt64() > 0); // message_start came: its input side is charged
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AClientThatLeavesMidStream_IsStillChargedTheUsage()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["ChunkDelayMs=100"], ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using (HttpResponseMessage response = await rig.MessagesAsync(key, Stream))
        {
            await using Stream body = await response.Content.ReadAsStreamAsync();
            await body.ReadAtLeastAsync(new byte[64], 1);
        }

        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.False(row.GetProperty("params").GetProperty("counted").GetBoolean()); // the usage came after the client left
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
        Assert.True(view.GetProperty("used_quota").GetInt64() > 0);
    }

    internal static IEnumerable<JsonElement> Events(string sse) =>
        sse.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement);
}
