using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The quota API and the admin API: idempotency, every error path, validation naming the field, nothing changed on error.</summary>
public sealed class QuotaApiAndAdminTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = null!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object body)
    {
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostRawAsync(string path, string json)
    {
        using HttpResponseMessage response = await host.Admin.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
    }

    [Fact]
    public async Task Reserve_Settle_Refund_AreIdempotent_AndConflictsAreNamed()
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });

        (HttpStatusCode status, JsonElement reserved) = await PostAsync("/api/quota/reserve", new { key, amount = 60, request_id = "r-1" });
        Assert.Equal(HttpStatusCode.OK, status);
        string id = reserved.GetProperty("reservation_id").GetString()!;
        Assert.Equal(id, (await PostAsync("/api/quota/reserve", new { token_id = token, amount = 60, request_id = "r-1" })).Body.GetProperty("reservation_id").GetString());

        (status, JsonElement settled) = await PostAsync("/api/quota/settle", new { reservation_id = id, amount = 75 });
        Assert.Equal((HttpStatusCode.OK, "settled", 75L, false), (status, settled.GetProperty("state").GetString(), settled.GetProperty("charged").GetInt64(), settled.GetProperty("exhausted").GetBoolean()));
        Assert.Equal(75, (await PostAsync("/api/quota/settle", new { reservation_id = id, amount = 1 })).Body.GetProperty("charged").GetInt64());

        (status, JsonElement conflict) = await PostAsync("/api/quota/refund", new { reservation_id = id });
        Assert.Equal((HttpStatusCode.Conflict, "reservation_already_finished"), (status, conflict.GetProperty("error").GetProperty("code").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("/api/quota/settle", new { reservation_id = "0000000900000009", amount = 1 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("/api/quota/settle", new { reservation_id = "nope", amount = 1 })).Status);

        string other = (await PostAsync("/api/quota/reserve", new { key, amount = 5 })).Body.GetProperty("reservation_id").GetString()!;
        Assert.Equal("refunded", (await PostAsync("/api/quota/refund", new { reservation_id = other })).Body.GetProperty("state").GetString());
        Assert.Equal("refunded", (await PostAsync("/api/quota/refund", new { reservation_id = other })).Body.GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await PostAsync("/api/quota/settle", new { reservation_id = other, amount = 5 })).Status);
        Assert.Equal(925, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("remain_quota").GetInt64());
    }

    [Fact]
    public async Task Rejections_UseTheRelayCodes()
    {
        int user = await host.CreateUserAsync(100);
        (_, string key) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 50 });
        Assert.Equal("insufficient_user_quota", (await PostAsync("/api/quota/reserve", new { key, amount = 101 })).Body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("pre_consume_token_quota_failed", (await PostAsync("/api/quota/reserve", new { key, amount = 60 })).Body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync("/api/quota/reserve", new { key = "sk-unknown", amount = 1 })).Status);
        Assert.Equal("amount", (await PostAsync("/api/quota/reserve", new { key, amount = 0 })).Body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task WithoutTheAdminKey_AdminAndQuotaApisRefuse()
    {
        using HttpResponseMessage users = await host.Client.PostAsJsonAsync("/api/users", new { quota = 1 });
        using HttpResponseMessage reserve = await host.Client.PostAsJsonAsync("/api/quota/reserve", new { token_id = 1, amount = 1 });
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/tokens");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", HostUnderTest.AdminKey[..^1] + "0");
        using HttpResponseMessage tokens = await host.Client.SendAsync(wrong);
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (users.StatusCode, reserve.StatusCode, tokens.StatusCode));
    }

    [Theory]
    [InlineData("{\"user_id\":1,\"quota_policy\":{\"period_mode\":\"hourly\",\"quota\":5}}", "quota_policy.period_mode")]
    [InlineData("{\"user_id\":1,\"quota_policy\":{\"period_mode\":\"custom\",\"custom_minutes\":9,\"quota\":5}}", "quota_policy.custom_minutes")]
    [InlineData("{\"user_id\":1,\"quota_policies\":[{\"period_mode\":\"daily\",\"quota\":5},{\"period_mode\":\"daily\",\"quota\":0}]}", "quota_policies[1].quota")]
    [InlineData("{\"user_id\":1,\"quota_policy\":{\"period_mode\":\"daily\",\"quota\":5,\"time_zone\":\"Mars/Base\"}}", "quota_policy.time_zone")]
    [InlineData("{\"user_id\":1,\"quota_policy\":{\"period_mode\":\"daily\",\"quota\":\"lots\"}}", "quota_policy.quota")]
    [InlineData("{\"user_id\":1,\"remain_quota\":-5}", "remain_quota")]
    [InlineData("{\"user_id\":1,\"status\":3}", "status")]
    [InlineData("{\"remain_quota\":5}", "user_id")]
    [InlineData("{\"user_id\":", "user_id")]
    [InlineData("{\"user_id\":999}", "user_id")]
    public async Task CreateToken_WithBadInput_Is400NamingTheField_AndCreatesNothing(string json, string field)
    {
        await host.CreateUserAsync();
        (HttpStatusCode status, JsonElement problem) = await PostRawAsync("/api/tokens", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Equal(0, (await host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task AHugeBody_IsRefusedWith413()
    {
        string huge = "{\"name\":\"" + new string('x', 5 * 1024 * 1024) + "\",\"quota\":1}";
        // Expect: 100-continue lets the server refuse before the body is sent, as a well-behaved client would.
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/users") { Content = new StringContent(huge, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using HttpResponseMessage response = await host.Admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task UpdateReplacesPolicies_ResetRestoresAPausedKey_AndTheLogsSayWhatHappened()
    {
        int user = await host.CreateUserAsync();
        (int token, string key) = await host.CreateTokenAsync(new { user_id = user, name = "k", remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });
        string id = (await PostAsync("/api/quota/reserve", new { key, amount = 10 })).Body.GetProperty("reservation_id").GetString()!;
        await PostAsync("/api/quota/settle", new { reservation_id = id, amount = 80 });

        using HttpResponseMessage update = await host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { name = "renamed", quota_policy = new { period_mode = "daily", quota = 50, exhausted_action = "disable_token" } });
        JsonElement updated = await update.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("renamed", "quota_policy_disabled", 80L), (updated.GetProperty("name").GetString(), updated.GetProperty("display_status").GetString(), updated.GetProperty("quota_policy").GetProperty("used_quota").GetInt64()));

        (HttpStatusCode status, JsonElement reset) = await PostAsync($"/api/tokens/{token}/quota_policy/reset", new { });
        Assert.Equal((HttpStatusCode.OK, "enabled", 0L), (status, reset.GetProperty("display_status").GetString(), reset.GetProperty("quota_policy").GetProperty("used_quota").GetInt64()));
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync($"/api/tokens/{token}/quota_policy/reset?policy_id=99", new { })).Status);

        await Task.Delay(300); // the log writer batches in the background
        JsonElement logs = await host.GetJsonAsync($"/api/logs?token_id={token}");
        string[] actions = logs.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("action").GetString()!).ToArray();
        Assert.Contains("token.quota_policy.update_disable", actions);
        Assert.Contains("token.quota_policy.manual_reset", actions);
        Assert.Equal("renamed", logs.GetProperty("items")[0].GetProperty("token_name").GetString());
    }

    [Fact]
    public async Task DeletingAKey_MakesItUnknown_AndADebitBelowZeroIsRefused()
    {
        int user = await host.CreateUserAsync(100);
        (int token, string key) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 10 });
        using (HttpResponseMessage deleted = await host.Admin.DeleteAsync($"/api/tokens/{token}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync("/api/quota/reserve", new { key, amount = 1 })).Status);
        using (HttpResponseMessage again = await host.Admin.DeleteAsync($"/api/tokens/{token}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync($"/api/users/{user}/quota", new { delta = -101 })).Status);
        Assert.Equal(150, (await PostAsync($"/api/users/{user}/quota", new { delta = 50 })).Body.GetProperty("quota").GetInt64());
    }

    [Fact]
    public async Task Operations_HealthMetricsAndOpenApi_Answer()
    {
        Assert.Equal("ok", (await host.Client.GetFromJsonAsync<JsonElement>("/healthz")).GetProperty("status").GetString());
        string metrics = await host.Client.GetStringAsync("/metrics");
        Assert.Contains("quota_healthy", metrics, StringComparison.Ordinal);
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10 });
        await PostAsync("/api/quota/reserve", new { key, amount = 1 });
        await PostAsync("/api/quota/reserve", new { key, amount = 100 });
        for (int attempt = 0; attempt < 300 && !(metrics.Contains("result=\"Ok\"", StringComparison.Ordinal) && metrics.Contains("result=\"InsufficientKeyQuota\"", StringComparison.Ordinal)); attempt++)
        {
            await Task.Delay(100); // the exporter caches a scrape briefly
            metrics = await host.Client.GetStringAsync("/metrics");
        }

        Assert.Contains("result=\"Ok\"", metrics, StringComparison.Ordinal);
        Assert.Contains("result=\"InsufficientKeyQuota\"", metrics, StringComparison.Ordinal);
        JsonElement openApi = await host.Client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/api/quota/reserve", out JsonElement reservePath));
        Assert.True(reservePath.GetProperty("post").TryGetProperty("requestBody", out _), "the reserve body schema is documented");
        Assert.True(openApi.GetProperty("components").GetProperty("schemas").TryGetProperty("TokenInput", out _));
    }
}
