using System.Net;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// A hostile client of the relay: bodies built to shrink or break the estimate are never a 5xx and leave nothing
/// held; a client that leaves in the middle of a stream is charged no more than its estimate and its key's hold goes.
/// </summary>
public sealed class HostileRelayTests
{
    private static readonly string[] Gpt4Family = ["gpt-4*"];
    private static readonly string[] PerToken = ["Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"];

    [Theory]
    [InlineData("""{"model":"tok","n":1000000000,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"tok","n":-1,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"tok","n":"2","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"tok","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"tok","max_tokens":1,"max_tokens":4096,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"tok","messages":null}""")]
    [InlineData("""{"model":"tok","messages":[null,{"role":"user","content":null}]}""")]
    [InlineData("""{"model":"tok","input":null,"messages":[{"role":"user","content":[{"type":"text","text":null}]}]}""")]
    [InlineData("""{"model":"tok","tools":[{"type":"function","function":{"name":"f","parameters":null}}],"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":null,"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""[]""")]
    public async Task AHostileChatBody_IsNeverA5xx_AndLeavesNothingHeld(string json)
    {
        await using RelayRig rig = await RelayRig.StartAsync(host: PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, json);
        string text = await response.Content.ReadAsStringAsync();

        Assert.True((int)response.StatusCode < 500, $"{response.StatusCode}: {text}");
        JsonElement view = await rig.SettledTokenAsync(token);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Equal(0, view.GetProperty("used_quota").GetInt64());
            Assert.False(string.IsNullOrEmpty(JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("message").GetString()));
        }
    }

    [Fact]
    public async Task AClientLeavingMidStream_FreesTheHold_AndIsChargedNoMoreThanItsEstimate()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=stall", "StallMs=30000"], [.. PerToken.Select(p => p), "Relay:Upstream:UsageGraceSeconds=1"]);
        (int token, string key) = await rig.KeyAsync();
        byte[] body = Encoding.UTF8.GetBytes("""{"model":"tok","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""");

        using (HttpResponseMessage response = await rig.PostBytesAsync(key, body))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using Stream stream = await response.Content.ReadAsStreamAsync();
            byte[] buffer = new byte[64];
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            Assert.True(await stream.ReadAsync(buffer, bounded.Token) > 0); // a first chunk arrived; then the client goes
        }

        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.True(row.GetProperty("quota").GetInt64() <= row.GetProperty("params").GetProperty("estimate").GetInt64());
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    /// <summary>
    /// A model-scoped policy matches the model name exactly (ordinal), so the relay must not price a spelling it would
    /// not hold: another case, a trailing space, a zero-width character or another hyphen is an unknown model (404; a raw
    /// NUL is not JSON: 400), never a way
    /// past a "gpt-4*" policy.
    /// </summary>
    [Theory]
    [InlineData("GPT-4o-mini")]
    [InlineData("gpt-4o-mini ")]
    [InlineData("gpt-4o-mini\u0000")]
    [InlineData("\u200Bgpt-4o-mini")]
    [InlineData("gpt\u20104o-mini")]
    public async Task AModelSpelledAnotherWay_IsNotPriced_SoItCannotSlipPastAModelScopedPolicy(string model)
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        (int token, string key) = await rig.Host.CreateTokenAsync(new
        {
            user_id = await rig.Host.CreateUserAsync(),
            remain_quota = 100_000_000,
            quota_policies = new object[] { new { period_mode = "daily", quota = 1, metric = "requests", models = Gpt4Family } },
        });
        string Body(string name) => $$"""{"model":"{{name}}","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""";

        using HttpResponseMessage first = await rig.PostAsync(key, Body("gpt-4o-mini"));
        using HttpResponseMessage evasive = await rig.PostAsync(key, Body(model));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        // A raw NUL is not JSON (400 naming the body); every other spelling is an unknown model (404 naming it).
        HttpStatusCode expected = model.Contains('\0', StringComparison.Ordinal) ? HttpStatusCode.BadRequest : HttpStatusCode.NotFound;
        Assert.Equal(expected, evasive.StatusCode);
        Assert.Equal(expected == HttpStatusCode.NotFound ? "model" : "body", (await RelayRig.ErrorAsync(evasive)).GetProperty("param").GetString());
        Assert.Equal(1, await rig.Upstream.RequestsAsync());
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("reserved_quota").GetInt64());
    }
}
