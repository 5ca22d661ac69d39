using System.Net;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// Output charged never exceeds what the forwarded request allowed (its cap × n): an upstream that reports more is
/// charged the bound, and the clamp is logged and counted in /metrics (docs/relay.md, "What is charged").
/// </summary>
public sealed class UsageClampTests
{
    private static readonly string[] UnitPerToken = ["Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"];

    [Theory]
    [InlineData("huge_usage", false)]
    [InlineData("huge_usage", true)]
    [InlineData("overflow_usage", false)]
    public async Task CompletionTokensAboveTheCap_AreChargedTheCap(string misbehave, bool stream)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"], UnitPerToken);
        (int token, string key) = await rig.KeyAsync();
        string body = $$"""{"model":"tok","max_tokens":5,"n":2,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Say something nice"}]}""";

        using HttpResponseMessage response = await rig.PostAsync(key, body);
        await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal(10, row.GetProperty("completion_tokens").GetInt64()); // 5 × n = 2, not the 10^13 reported
        long prompt = row.GetProperty("prompt_tokens").GetInt64();
        Assert.Equal(prompt + 10, view.GetProperty("used_quota").GetInt64());
        Assert.Contains("quota_upstream_usage_clamped", await rig.Host.Client.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }
}
