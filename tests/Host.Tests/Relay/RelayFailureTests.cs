using System.Net;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// Every failure after the reserve refunds (or settles what was produced) and answers an OpenAI-style error;
/// bad bodies are refused before the reserve; the upstream's credentials never reach the client.
/// </summary>
public sealed class RelayFailureTests
{
    private const string Chat = """{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"Say something nice"}]}""";
    private const string Stream = """{"model":"gpt-4o-mini","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"Say something nice"}]}""";

    [Theory]
    [InlineData("html")]
    [InlineData("broken_json")]
    [InlineData("sse_for_non_stream")]
    [InlineData("status_500")]
    public async Task ABrokenNonStreamReply_Is502UpstreamError_AndRefunded(string misbehave)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        JsonElement error = await RelayRig.ErrorAsync(response);
        Assert.Equal("upstream_error", error.GetProperty("code").GetString());
        Assert.DoesNotContain("secret", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(0, view.GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task ABrokenLineMidStream_EndsWithAnErrorEvent_AndSettlesOnlyWhatWasProduced()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=broken_line"], ["Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Stream.Replace("gpt-4o-mini", "tok", StringComparison.Ordinal));
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"code\":\"upstream_error\"", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal(2, row.GetProperty("completion_tokens").GetInt64()); // "This is": the two chunks before the broken one
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData("huge_prompt")]
    [InlineData("overflow_prompt")]
    public async Task UsageAboveTheLargestAmount_IsChargedClampedToIt_NotReplacedByTheEstimate(string misbehave)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(Engine.EngineLimits.AmountMaxUnits, view.GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AClientLeavingWhileASlowNonStreamBodyIsRead_LeavesNoHold()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=slow_body", "StallMs=30000"], ["Relay:Upstream:UsageGraceSeconds=1"]);
        (int token, string key) = await rig.KeyAsync();

        using var leave = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            using HttpResponseMessage response = await rig.PostBytesAsync(key, Encoding.UTF8.GetBytes(Chat), cancellationToken: leave.Token);
            await response.Content.ReadAsStringAsync(leave.Token);
        });

        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(0, view.GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o-mini","max_tokens":-5,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o-mini","max_tokens":"5","messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o-mini","max_tokens":5.5,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o-mini","max_completion_tokens":0,"messages":[{"role":"user","content":"hi"}]}""", "max_completion_tokens")]
    [InlineData("""{"model":"gpt-4o-mini","max_tokens":99999999999,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens")]
    [InlineData("""{"model":"gpt-4o-mini","n":0,"messages":[{"role":"user","content":"hi"}]}""", "n")]
    [InlineData("""{"model":"gpt-4o-mini","stream":"true","messages":[{"role":"user","content":"hi"}]}""", "stream")]
    [InlineData("""{"model":"gpt-4o-mini","messages":"hi"}""", "messages")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"}""", "model")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\udc00 lone"}]}""", "messages[0].content")]
    [InlineData("""{"model":"text-embedding-3-small","input":{"text":"hi"}}""", "input")]
    public async Task ABadField_Is400NamingIt_BeforeAnythingIsReserved(string json, string field)
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        (int token, string key) = await rig.KeyAsync();

        string path = json.Contains("embedding", StringComparison.Ordinal) ? "/v1/embeddings" : "/v1/chat/completions";
        using HttpResponseMessage response = await rig.PostAsync(key, json, path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        JsonElement error = await RelayRig.ErrorAsync(response);
        Assert.Equal(field, error.GetProperty("param").GetString());
        Assert.Contains(field, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
        Assert.Equal(0, (await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task InvalidUtf8InAMessage_Is400NamingTheField()
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        (_, string key) = await rig.KeyAsync();
        byte[] head = Encoding.UTF8.GetBytes("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"bad """);
        byte[] tail = Encoding.UTF8.GetBytes("\"}]}");

        using HttpResponseMessage response = await rig.PostBytesAsync(key, [.. head, 0xC3, 0x28, 0xFF, .. tail]);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("messages", (await RelayRig.ErrorAsync(response)).GetProperty("param").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
    }

    [Fact]
    public async Task AnUpstream401EchoingItsKey_Is502WithAGenericMessage_AndTheKeyNeverReachesTheClient()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=echo_auth_401"], ["Relay:Upstream:ApiKey=sk-upstream-secret-4242"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("\"upstream_error\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-upstream-secret-4242", body, StringComparison.Ordinal);
        Assert.DoesNotContain("invalid_api_key", body, StringComparison.Ordinal);
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AnUpstream400_IsPassedThrough_WithTheRelaysKeyRedacted_AndRefunded()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=status_400"], ["Relay:Upstream:ApiKey=sk-upstream-secret-4242"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("context_length_exceeded", body, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-upstream-secret-4242", body, StringComparison.Ordinal);
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AStallInsideAStream_EndsAtTheIdleTimeout_WithAnErrorEvent_SettlingWhatWasProduced()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=stall", "StallMs=60000"], ["Relay:Upstream:IdleTimeoutSeconds=1", "Pricing:Models:tok:OutputPerMillion=1000000"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Stream.Replace("gpt-4o-mini", "tok", StringComparison.Ordinal));
        string body = await response.Content.ReadAsStringAsync();

        Assert.EndsWith("\"code\":\"upstream_error\"}}\n\n", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(2, view.GetProperty("used_quota").GetInt64()); // the two words streamed before the stall, 1 unit each
    }

    [Fact]
    public async Task AStreamOutlastingTheWholeTimeout_IsCut_WithAnErrorEvent_SettlingWhatWasProduced()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["ChunkDelayMs=200"], ["Relay:Upstream:TimeoutSeconds=1", "Pricing:Models:tok:OutputPerMillion=1000000"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Stream.Replace("gpt-4o-mini", "tok", StringComparison.Ordinal).Replace("\"max_tokens\":20", "\"max_tokens\":200", StringComparison.Ordinal));
        string body = await response.Content.ReadAsStringAsync();

        Assert.EndsWith("\"code\":\"upstream_error\"}}\n\n", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.InRange(view.GetProperty("used_quota").GetInt64(), 1, 199);
    }

    [Fact]
    public async Task ANonStreamReplySlowerThanTheWholeTimeout_Is502_AndRefunded()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=slow_body", "StallMs=60000"], ["Relay:Upstream:TimeoutSeconds=1"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AnUpstreamRedirect_IsNotFollowed_ItIs502AndRefunded()
    {
        // A 307 keeps the method, the body and, if followed, the relay's upstream key: it must not be.
        await using UpstreamUnderTest elsewhere = await UpstreamUnderTest.StartAsync();
        await using RedirectingServer upstream = await RedirectingServer.StartAsync(elsewhere.BaseUrl[..^"/v1".Length]);
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl + "/v1");
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1_000_000 });

        using HttpResponseMessage response = await host.ChatAsync(key, JsonDocument.Parse(Chat).RootElement);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, upstream.Hits);
        Assert.Equal(0, await elsewhere.RequestsAsync());
        Assert.Equal(0, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }
}
