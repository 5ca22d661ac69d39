using System.Net;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// <c>POST /v1/responses</c> (docs/relay.md): the cap written into the forwarded body as <c>max_output_tokens</c>,
/// usage from the response or its <c>response.completed</c> event counted once, the context of a stored response
/// reserved, <c>background</c> refused, and the chat relay's failure paths.
/// </summary>
public sealed class ResponsesTests
{
    private const string Request = """{"model":"gpt-test","input":"Say something nice","instructions":"Be brief"}""";

    [Fact]
    public async Task ANonStreamResponse_IsChargedItsUsage_WithTheDefaultCapWrittenIntoTheBody()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, url => [.. ProviderTests.Claude(url), "Pricing:DefaultMaxTokens=7"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Request, "/v1/responses");
        JsonElement usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(7, JsonDocument.Parse((await rig.Upstream.LastAsync())[":body"]).RootElement.GetProperty("max_output_tokens").GetInt64());
        long input = usage.GetProperty("input_tokens").GetInt64(), output = usage.GetProperty("output_tokens").GetInt64();
        Assert.Equal(7, output);
        Assert.Equal(input + (5 * output), (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        Assert.Contains("\"protocol\":\"responses\"", (await rig.ConsumeRowsAsync(token))[0].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStream_IsChargedTheCompletedEventsUsage_Once()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"gpt-test","input":"hi","stream":true,"max_output_tokens":4}""", "/v1/responses");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement usage = MessagesTests.Events(body).Single(e => e.GetProperty("type").GetString() == "response.completed").GetProperty("response").GetProperty("usage");
        long input = usage.GetProperty("input_tokens").GetInt64(), output = usage.GetProperty("output_tokens").GetInt64();
        Assert.Equal(4, output);
        Assert.Equal(input + (5 * output), (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task Background_Is400_NeverAnUnbilledRequest()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"gpt-test","input":"hi","background":true}""", "/v1/responses");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("background", (await RelayRig.ErrorAsync(response)).GetProperty("param").GetString());
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
    }

    [Fact]
    public async Task APreviousResponse_ReservesItsReportedContext_AnUnknownOneTheDefault()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, url => [.. ProviderTests.Claude(url), "Relay:Responses:UnknownContextTokens=5000"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage first = await rig.PostAsync(key, """{"model":"gpt-test","input":"hi","max_output_tokens":3}""", "/v1/responses");
        JsonElement reply = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement;
        string id = reply.GetProperty("id").GetString()!;
        long context = reply.GetProperty("usage").GetProperty("input_tokens").GetInt64() + reply.GetProperty("usage").GetProperty("output_tokens").GetInt64();
        await rig.SettledTokenAsync(token);
        using HttpResponseMessage known = await rig.PostAsync(key, $$"""{"model":"gpt-test","input":"hi","max_output_tokens":3,"previous_response_id":"{{id}}"}""", "/v1/responses");
        await known.Content.ReadAsStringAsync();
        await rig.SettledTokenAsync(token);
        using HttpResponseMessage unknown = await rig.PostAsync(key, """{"model":"gpt-test","input":"hi","max_output_tokens":3,"previous_response_id":"resp_elsewhere"}""", "/v1/responses");
        await unknown.Content.ReadAsStringAsync();

        JsonElement[] rows = await rig.ConsumeRowsAsync(token, 3); // newest first
        long alone = rows[2].GetProperty("params").GetProperty("estimate_prompt_tokens").GetInt64();
        Assert.Equal(alone + context, rows[1].GetProperty("params").GetProperty("estimate_prompt_tokens").GetInt64());
        Assert.Equal(alone + 5000, rows[0].GetProperty("params").GetProperty("estimate_prompt_tokens").GetInt64());
    }

    [Theory]
    [InlineData("broken_line")]
    [InlineData("stall")]
    public async Task AStreamThatBreaksOrStalls_EndsWithAnErrorEvent_AndSettlesWhatWasProduced(string misbehave)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}", "StallMs=30000"],
            url => [.. ProviderTests.Claude(url), "Relay:Upstream:IdleTimeoutSeconds=1"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"gpt-test","input":"hi","stream":true}""", "/v1/responses");
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: error\ndata: {\"type\":\"error\",\"code\":\"upstream_error\"", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(0, view.GetProperty("reserved_quota").GetInt64());
    }

    [Theory]
    [InlineData("status_500", HttpStatusCode.BadGateway)]
    [InlineData("echo_auth_401", HttpStatusCode.BadGateway)]
    [InlineData("status_400", HttpStatusCode.BadRequest)]
    public async Task AnUpstreamError_IsPassedOnOr502_AndRefunded(string misbehave, HttpStatusCode status)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"], url => [.. ProviderTests.Claude(url), "Relay:Upstream:ApiKey=sk-default-secret-key"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Request, "/v1/responses");

        Assert.Equal(status, response.StatusCode);
        Assert.DoesNotContain("sk-default-secret-key", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }
}
