using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// <c>GET /api/oauth/usage</c> (README "Claude Code"): the relay key's 5-hour and 7-day windows in the shape status-line
/// tools read — percent used and an ISO 8601 reset, null for a window the key does not have — and the relay's 401s.
/// </summary>
public sealed class OAuthUsageTests
{
    [Fact]
    public async Task WithXApiKeyOrBearer_ItShowsTheWindowsInPercent_AndTheirResets()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await UnifiedHeadersTests.KeyAsync(rig,
            new { period_mode = "preset_5h", quota = 5, metric = "requests" }, new { period_mode = "weekly", quota = 3, metric = "requests" });
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage answer = await rig.MessagesAsync(key, ProviderTests.Message);
            await answer.Content.ReadAsStringAsync();
        }

        (HttpStatusCode status, JsonElement usage) = await UsageAsync(rig, key, bearer: false);
        (HttpStatusCode statusBearer, JsonElement usageBearer) = await UsageAsync(rig, key, bearer: true);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, statusBearer);
        Assert.Equal(usage.ToString(), usageBearer.ToString());
        Assert.Equal(60, usage.GetProperty("five_hour").GetProperty("utilization").GetDouble()); // 3 of 5: the weekly 3 refused the 4th
        Assert.Equal(100, usage.GetProperty("seven_day").GetProperty("utilization").GetDouble());
        JsonElement[] policies = (await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies").EnumerateArray().ToArray();
        Assert.Equal(Iso(policies[0].GetProperty("next_reset_at").GetInt64()), usage.GetProperty("five_hour").GetProperty("resets_at").GetString());
        Assert.Equal(Iso(policies[1].GetProperty("next_reset_at").GetInt64()), usage.GetProperty("seven_day").GetProperty("resets_at").GetString());
    }

    [Fact]
    public async Task AWindowTheKeyDoesNotHave_IsNull()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (_, string key) = await UnifiedHeadersTests.KeyAsync(rig, new { period_mode = "daily", quota = 5 });

        (HttpStatusCode status, JsonElement usage) = await UsageAsync(rig, key, bearer: false);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("five_hour").ValueKind);
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("seven_day").ValueKind);
    }

    [Fact]
    public async Task NoKey_AnUnknownKey_AndADisabledKey_Are401InAnthropicsShape()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, ProviderTests.Claude);
        (int token, string key) = await UnifiedHeadersTests.KeyAsync(rig, new { period_mode = "preset_5h", quota = 5 });
        using HttpResponseMessage disable = await rig.Host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { status = 2 });
        disable.EnsureSuccessStatusCode();

        using HttpResponseMessage none = await rig.Host.Client.GetAsync("/api/oauth/usage");
        (HttpStatusCode unknown, JsonElement unknownBody) = await UsageAsync(rig, "sk-not-a-key", bearer: true);
        (HttpStatusCode disabled, JsonElement disabledBody) = await UsageAsync(rig, key, bearer: false);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown);
        Assert.Equal(HttpStatusCode.Unauthorized, disabled);
        foreach (JsonElement body in new[] { JsonDocument.Parse(await none.Content.ReadAsStringAsync()).RootElement, unknownBody, disabledBody })
        {
            Assert.Equal("error", body.GetProperty("type").GetString());
            Assert.Equal("authentication_error", body.GetProperty("error").GetProperty("type").GetString());
            Assert.Equal("invalid_api_key", body.GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal("API key is disabled", disabledBody.GetProperty("error").GetProperty("message").GetString());
    }

    private static async Task<(HttpStatusCode, JsonElement)> UsageAsync(RelayRig rig, string key, bool bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/oauth/usage");
        if (bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        else
        {
            request.Headers.Add("x-api-key", key);
        }

        using HttpResponseMessage response = await rig.Host.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static string Iso(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
