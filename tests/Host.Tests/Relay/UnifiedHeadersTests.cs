using System.Net;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// The unified rate-limit headers on <c>/v1/messages</c> (docs/relay.md "Unified limits"): the key's 5-hour and 7-day
/// windows as fractions with their resets, a status (<c>allowed</c>, <c>allowed_warning</c> from
/// <c>Relay:UnifiedWarnAt</c>, <c>rejected</c>) and the window nearer exhaustion, on relayed, streamed and refused answers.
/// </summary>
public sealed class UnifiedHeadersTests
{
    private const string Message = ProviderTests.Message;
    private const string Stream = """{"model":"claude-test","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"Say something nice"}]}""";

    /// <summary>A 5-hour window of 5 requests: each answer is read after its request settled.</summary>
    private static readonly object FiveRequests = new { period_mode = "preset_5h", quota = 5, metric = "requests" };

    [Fact]
    public async Task AtZeroPercent_TheStatusIsAllowed_WithBothWindows_TheirResets_AndTheFiveHourClaim()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await KeyAsync(rig, new { period_mode = "preset_5h", quota = 1_000_000_000_000 }, new { period_mode = "weekly", quota = 1_000_000_000_000 });

        using HttpResponseMessage answer = await rig.MessagesAsync(key, Message);
        await answer.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("allowed", Header(answer, "status"));
        Assert.Equal("0", Header(answer, "5h-utilization"));
        Assert.Equal("0", Header(answer, "7d-utilization"));
        Assert.Equal("five_hour", Header(answer, "representative-claim"));
        JsonElement[] policies = (await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies").EnumerateArray().ToArray();
        Assert.Equal(policies[0].GetProperty("next_reset_at").GetInt64().ToString(), Header(answer, "5h-reset"));
        Assert.Equal(policies[1].GetProperty("next_reset_at").GetInt64().ToString(), Header(answer, "7d-reset"));
    }

    [Fact]
    public async Task BelowEightyPercent_Allowed_AtEighty_AllowedWarning_AtAHundred_StillAWarning_AndTheRefusalIsRejected()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await KeyAsync(rig, FiveRequests);
        string[] statuses = new string[6], utilizations = new string[6];
        HttpStatusCode refusal = default;

        for (int i = 0; i < 6; i++)
        {
            using HttpResponseMessage answer = await rig.MessagesAsync(key, Message);
            await answer.Content.ReadAsStringAsync();
            (statuses[i], utilizations[i]) = (Header(answer, "status"), Header(answer, "5h-utilization"));
            Assert.False(answer.Headers.Contains("anthropic-ratelimit-unified-7d-utilization")); // no weekly policy
            Assert.Equal("five_hour", Header(answer, "representative-claim"));
            refusal = answer.StatusCode;
        }

        Assert.Equal(["0.2", "0.4", "0.6", "0.8", "1", "1"], utilizations);
        Assert.Equal(["allowed", "allowed", "allowed", "allowed_warning", "allowed_warning", "rejected"], statuses);
        Assert.Equal((HttpStatusCode)429, refusal);
    }

    [Fact]
    public async Task TheWarningThreshold_IsRelayUnifiedWarnAt()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, url => [.. ProviderTests.Claude(url), "Relay:UnifiedWarnAt=0.4"]);
        (_, string key) = await KeyAsync(rig, FiveRequests);

        using HttpResponseMessage first = await rig.MessagesAsync(key, Message);
        using HttpResponseMessage second = await rig.MessagesAsync(key, Message);

        Assert.Equal("allowed", Header(first, "status"));
        Assert.Equal("allowed_warning", Header(second, "status"));
    }

    [Fact]
    public async Task AStreamedAnswer_CarriesThem_AsOfItsStart()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await KeyAsync(rig, FiveRequests);
        using HttpResponseMessage first = await rig.MessagesAsync(key, Message);
        await first.Content.ReadAsStringAsync();

        using HttpResponseMessage streamed = await rig.MessagesAsync(key, Stream);
        await streamed.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType?.MediaType);
        Assert.Equal("allowed", Header(streamed, "status"));
        Assert.Equal("0.2", Header(streamed, "5h-utilization")); // the headers leave before the stream is settled
    }

    [Fact]
    public async Task TheWeeklyWindowNearerExhaustion_IsTheClaim_AndAFastSpendWarnsBeforeEighty()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        // one request in a fresh 5-hour window is read as one per 30 minutes: the weekly 4 run out long before the reset
        (_, string key) = await KeyAsync(rig, new { period_mode = "preset_5h", quota = 100, metric = "requests" }, new { period_mode = "weekly", quota = 4, metric = "requests" });

        using HttpResponseMessage answer = await rig.MessagesAsync(key, Message);

        Assert.Equal("0.01", Header(answer, "5h-utilization"));
        Assert.Equal("0.25", Header(answer, "7d-utilization"));
        Assert.Equal("seven_day", Header(answer, "representative-claim"));
        Assert.Equal("allowed_warning", Header(answer, "status"));
    }

    [Fact]
    public async Task AWeeklyWindowWithRoomForTheRate_StaysAllowed()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        // one request per 30 minutes for a week is 336: a weekly quota of 400 holds it
        (_, string key) = await KeyAsync(rig, new { period_mode = "preset_5h", quota = 100, metric = "requests" }, new { period_mode = "weekly", quota = 400, metric = "requests" });

        using HttpResponseMessage answer = await rig.MessagesAsync(key, Message);

        Assert.Equal("allowed", Header(answer, "status"));
        Assert.Equal("five_hour", Header(answer, "representative-claim"));
    }

    [Fact]
    public async Task AKeyWithNeitherWindow_GetsTheStatusOnly_AndAWalletRefusalIsRejected()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await rig.KeyAsync(wallet: 1);

        using HttpResponseMessage refused = await rig.MessagesAsync(key, Message);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("rejected", Header(refused, "status"));
        Assert.DoesNotContain(refused.Headers, h => h.Key.StartsWith("anthropic-ratelimit-unified-", StringComparison.Ordinal) && h.Key != "anthropic-ratelimit-unified-status");
    }

    [Fact]
    public async Task TheChatRoutes_DoNotCarryThem()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await KeyAsync(rig, FiveRequests);

        using HttpResponseMessage chat = await rig.PostAsync(key, """{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.False(chat.Headers.Contains("anthropic-ratelimit-unified-status"));
    }

    internal static async Task<(int Token, string Key)> KeyAsync(RelayRig rig, params object[] policies)
    {
        int user = await rig.Host.CreateUserAsync(10_000_000);
        return await rig.Host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000_000, quota_policies = policies });
    }

    private static string Header(HttpResponseMessage answer, string name) =>
        answer.Headers.TryGetValues("anthropic-ratelimit-unified-" + name, out IEnumerable<string>? values) ? values.Single() : $"(no {name})";
}
