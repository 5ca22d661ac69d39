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
}
