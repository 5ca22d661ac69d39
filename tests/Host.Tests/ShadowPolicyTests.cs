using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// Shadow policies through the real relay (tools/FakeUpstream) and the admin API (docs/api.md "Keys (tokens)", mode):
/// every request passes, the key holder's headers do not show the policy, the operator reads the exact count on the
/// policy, in /metrics and once per window in the system log; an edit to enforce keeps the window and refuses.
/// </summary>
public sealed class ShadowPolicyTests : IAsyncDisposable
{
    private RelayRig? rig;

    public async ValueTask DisposeAsync()
    {
        if (rig is not null)
        {
            await rig.DisposeAsync();
        }
    }

    private static object Chat() => new { model = "gpt-4o-mini", max_tokens = 10, messages = new[] { new { role = "user", content = "Say something nice" } } };

    private static object RequestsPolicy(string? mode) =>
        new { period_mode = "daily", metric = "requests", quota = 2, exhausted_action = "disable_token", mode };

    [Fact]
    public async Task AShadowPolicy_RefusesNothing_AndReportsExactlyWhatItWouldHaveRefused_ThenEnforcesAfterAnEdit()
    {
        RelayRig r = rig = await RelayRig.StartAsync();
        (int token, string key) = await r.Host.CreateTokenAsync(new
        {
            user_id = await r.Host.CreateUserAsync(), remain_quota = 100_000_000, quota_policies = new[] { RequestsPolicy("shadow") },
        });

        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage ok = await r.Host.ChatAsync(key, Chat());
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.False(ok.Headers.Contains("RateLimit-Policy"), "a shadow policy limits nothing: the client must not see it");
            await ok.Content.ReadAsStringAsync();
            await r.SettledTokenAsync(token);
        }

        JsonElement policy = (await r.SettledTokenAsync(token)).GetProperty("quota_policies")[0];
        Assert.Equal(("shadow", 2L, 3L, 1), (policy.GetProperty("mode").GetString(), policy.GetProperty("used_quota").GetInt64(),
            policy.GetProperty("shadow_refusals").GetInt64(), (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("status").GetInt32()));
        Assert.Equal("3", await MetricAsync(r, "quota_shadow_refusals_total"));
        JsonElement[] logged = await SystemRowsAsync(r, token, "token.quota_policy.shadow_refusal", expected: 1);
        Assert.Equal(0, logged[0].GetProperty("params").GetProperty("policy_index").GetInt32());

        // Making it enforce keeps the window's usage (2 of 2): the next request is refused, and the key paused (disable_token).
        using HttpResponseMessage put = await r.Host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { quota_policies = new[] { RequestsPolicy("enforce") } });
        JsonElement updated = await put.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(("enforce", 2L, 3L), (updated.GetProperty("quota_policies")[0].GetProperty("mode").GetString(),
            updated.GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64(), updated.GetProperty("quota_policies")[0].GetProperty("shadow_refusals").GetInt64()));
        using HttpResponseMessage refused = await r.Host.ChatAsync(key, Chat());
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
    }

    [Theory]
    [InlineData("dry_run")]
    [InlineData("Shadow")]
    [InlineData("")]
    public async Task AnUnknownMode_Is400NamingTheField_AndChangesNothing(string mode)
    {
        RelayRig r = rig = await RelayRig.StartAsync();
        int user = await r.Host.CreateUserAsync();
        using HttpResponseMessage created = await r.Host.Admin.PostAsJsonAsync("/api/tokens", new { user_id = user, quota_policies = new[] { new { period_mode = "daily", quota = 10, mode } } });
        await AssertFieldAsync(created, "quota_policies[0].mode");

        (int token, _) = await r.Host.CreateTokenAsync(new { user_id = user, quota_policy = new { period_mode = "daily", quota = 10 } });
        using HttpResponseMessage put = await r.Host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { quota_policy = new { period_mode = "weekly", quota = 99, mode } });
        await AssertFieldAsync(put, "quota_policy.mode");
        JsonElement kept = (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies")[0];
        Assert.Equal(("daily", 10L, "enforce"), (kept.GetProperty("period_mode").GetString(), kept.GetProperty("quota").GetInt64(), kept.GetProperty("mode").GetString()));
    }

    internal static async Task AssertFieldAsync(HttpResponseMessage response, string field)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.Equal(field, JsonDocument.Parse(text).RootElement.GetProperty("field").GetString());
    }

    private static async Task<string> MetricAsync(RelayRig r, string name)
    {
        string? line = (await r.Host.Client.GetStringAsync("/metrics")).Split('\n')
            .FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal));
        return line?.Split(' ')[1] ?? "";
    }

    private static async Task<JsonElement[]> SystemRowsAsync(RelayRig r, int token, string action, int expected)
    {
        JsonElement[] rows = [];
        for (int attempt = 0; attempt < 600 && rows.Length < expected; attempt++)
        {
            await Task.Delay(50);
            rows = [.. (await r.Host.GetJsonAsync($"/api/logs?token_id={token}&action={action}")).GetProperty("items").EnumerateArray()];
        }

        Assert.Equal(expected, rows.Length);
        return rows;
    }
}
