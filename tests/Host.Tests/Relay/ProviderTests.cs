using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// Providers (docs/relay.md "Providers"): a model goes to the first provider whose pattern matches, with that
/// provider's key; the client's relay key never goes upstream; the provider's key never reaches a client, a log or an
/// error body; a request in a protocol the model's provider does not speak is a 400 naming both; bad configuration
/// stops the host with a message naming the key.
/// </summary>
public sealed class ProviderTests
{
    private static readonly string[] PricedModels = ["claude-test", "gpt-test"];

    internal const string ProviderKey = "sk-ant-provider-secret-0123456789";

    internal static string[] Claude(string baseUrl) =>
    [
        "Relay:Providers:claude:Protocol=anthropic", $"Relay:Providers:claude:BaseUrl={baseUrl}", $"Relay:Providers:claude:ApiKey={ProviderKey}",
        "Relay:Providers:claude:Models:0=claude-*",
        "Pricing:Models:claude-test:InputPerMillion=1000000", "Pricing:Models:claude-test:OutputPerMillion=5000000",
        "Pricing:Models:claude-test:CacheReadPerMillion=100000", "Pricing:Models:claude-test:CacheWritePerMillion=1250000",
        "Pricing:Models:claude-test:CacheWrite1hPerMillion=2000000",
        "Pricing:Models:gpt-test:InputPerMillion=1000000", "Pricing:Models:gpt-test:OutputPerMillion=5000000",
        "Pricing:Models:gpt-test:CacheReadPerMillion=100000", "Pricing:Models:gpt-test:ReasoningPerMillion=4000000",
    ];

    internal const string Message = """{"model":"claude-test","max_tokens":20,"messages":[{"role":"user","content":"Say something nice"}]}""";

    [Fact]
    public async Task AModelGoesToItsProvider_WithTheProvidersKey_AndTheClientsHeadersAndQuery_NeverTheRelayKey()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, Claude);
        (_, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Message, "/v1/messages?beta=true", beta: "prompt-caching-2024-07-31");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Dictionary<string, string> sent = await rig.Upstream.LastAsync();
        Assert.Equal("/v1/messages?beta=true", sent[":path"]);
        Assert.Equal(ProviderKey, sent["x-api-key"]);
        Assert.Equal("2023-06-01", sent["anthropic-version"]);
        Assert.Equal("prompt-caching-2024-07-31", sent["anthropic-beta"]);
        Assert.False(sent.ContainsKey("authorization"));
        Assert.DoesNotContain(sent.Values, v => v.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AChatForAModelOfNoProvider_GoesToTheDefaultUpstream_WithItsOwnKey()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, url => [.. Claude(url), "Relay:Upstream:ApiKey=sk-openai-default-key"]);
        (_, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Dictionary<string, string> sent = await rig.Upstream.LastAsync();
        Assert.Equal("Bearer sk-openai-default-key", sent["authorization"]);
        Assert.False(sent.ContainsKey("x-api-key"));
        Assert.DoesNotContain(sent.Values, v => v.Contains(key, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("status_400", HttpStatusCode.BadRequest)]
    [InlineData("echo_auth_401", HttpStatusCode.BadGateway)]
    public async Task TheProvidersKey_NeverReachesTheClientOrALog(string misbehave, HttpStatusCode status)
    {
        var logs = new CapturedLogs();
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"], Claude, configure: logs.AddTo);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Message);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, response.StatusCode);
        Assert.DoesNotContain(ProviderKey, body, StringComparison.Ordinal);
        Assert.DoesNotContain(response.Headers, h => h.Value.Any(v => v.Contains(ProviderKey, StringComparison.Ordinal)));
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        Assert.DoesNotContain(ProviderKey, logs.Text, StringComparison.Ordinal);
        if (status == HttpStatusCode.BadRequest)
        {
            Assert.Contains("[redacted]", body, StringComparison.Ordinal); // the echo happened, and was redacted
        }
    }

    [Fact]
    public async Task AProtocolTheModelsProviderDoesNotSpeak_Is400NamingTheModelAndItsProtocol()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage chat = await rig.PostAsync(key, """{"model":"claude-test","messages":[{"role":"user","content":"hi"}]}""");
        using HttpResponseMessage messages = await rig.MessagesAsync(key, """{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, chat.StatusCode);
        string chatError = (await RelayRig.ErrorAsync(chat)).GetProperty("message").GetString()!;
        Assert.Contains("'claude-test'", chatError, StringComparison.Ordinal);
        Assert.Contains("anthropic", chatError, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, messages.StatusCode);
        JsonElement anthropic = JsonDocument.Parse(await messages.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("error", anthropic.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", anthropic.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("'gpt-test'", anthropic.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("openai", anthropic.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
        Assert.Equal(0, (await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData("Relay:Providers:x:Protocol=gemini", "Relay:Providers:x:Protocol")]
    [InlineData("Relay:Providers:x:BaseUrl=not a url", "Relay:Providers:x:BaseUrl")]
    [InlineData("Relay:Providers:x:Models:0=cl*ude", "Relay:Providers:x:Models:0")]
    [InlineData("Pricing:Models:m:CacheReadPerMillion=-1", "CacheReadPerMillion")]
    [InlineData("Pricing:Groups:vip:MultiplierPerMille=-5", "Pricing:Groups:<group>:MultiplierPerMille")]
    public async Task BadProviderOrPriceConfiguration_StopsTheHost_NamingTheKey(string setting, string named)
    {
        using var data = new TempDirectory();
        string[] provider = ["--Relay:Providers:x:Protocol=openai", "--Relay:Providers:x:BaseUrl=http://127.0.0.1:9/v1", "--Relay:Providers:x:Models:0=x-*"];
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, [.. provider, "--" + setting]);
        });

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APriceGroupMultiplier_ScalesTheCharge()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, url => [.. Claude(url), "Pricing:Groups:default:MultiplierPerMille=500"]);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, Message);
        JsonElement usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");

        long full = usage.GetProperty("input_tokens").GetInt64() + (5 * usage.GetProperty("output_tokens").GetInt64());
        Assert.Equal((full + 1) / 2, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task TheModelList_HasEveryPricedModel_InAnthropicsShapeWhenAskedThatWay()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);

        JsonElement openAi = JsonDocument.Parse(await rig.Host.Client.GetStringAsync("/v1/models")).RootElement;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("x-api-key", "sk-any");
        using HttpResponseMessage response = await rig.Host.Client.SendAsync(request);
        JsonElement anthropic = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal("list", openAi.GetProperty("object").GetString());
        Assert.Equal(PricedModels, openAi.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray());
        Assert.Equal(PricedModels, anthropic.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray());
        Assert.Equal("model", anthropic.GetProperty("data")[0].GetProperty("type").GetString());
        Assert.False(anthropic.GetProperty("has_more").GetBoolean());
        Assert.Equal("claude-test", anthropic.GetProperty("first_id").GetString());
        Assert.Equal("gpt-test", anthropic.GetProperty("last_id").GetString());
    }
}
