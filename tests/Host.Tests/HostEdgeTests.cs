using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Host.Errors;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The smaller edges: /v1/quota for dead keys, clear messages, 415 with a body, log paging, bounded strings, every result mapped.</summary>
public sealed class HostEdgeTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-06-27T03:55:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private HostUnderTest host = null!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, null, time);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    private async Task<HttpResponseMessage> OwnQuotaAsync(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quota");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await host.Client.SendAsync(request);
    }

    [Fact]
    public async Task OwnQuota_Is401ForADisabledOrExpiredKey()
    {
        int user = await host.CreateUserAsync();
        (int disabled, string disabledKey) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 100 });
        (_, string expiringKey) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 100, expired_time = time.GetUtcNow().ToUnixTimeSeconds() + 60 });
        using (HttpResponseMessage ok = await OwnQuotaAsync(disabledKey))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (await host.Admin.PutAsJsonAsync($"/api/tokens/{disabled}", new { status = 2 }))
        {
        }

        time.Advance(TimeSpan.FromMinutes(2));
        foreach (string key in new[] { disabledKey, expiringKey })
        {
            using HttpResponseMessage response = await OwnQuotaAsync(key);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        }
    }

    [Theory]
    [InlineData("""{"user_id":1,"remain_quota":1152921504606846977}""", "remain_quota", "1152921504606846976")]
    [InlineData("""{"user_id":1,"expired_time":9223372036854775807}""", "expired_time", "Unix time")]
    [InlineData("""{"user_id":1,"quota_policy":{"period_mode":"custom","custom_minutes":5,"quota":10}}""", "quota_policy.custom_minutes", "525600")]
    [InlineData("""{"user_id":1,"quota_policies":[{"period_mode":"daily","quota":10},{"period_mode":"hourly","quota":10}]}""", "quota_policies[1].period_mode", "preset_5h")]
    [InlineData("""{"user_id":1,"quota_policy":{"period_mode":"daily","quota":10,"anchor_time":4102444801}}""", "quota_policy.anchor_time", "2000")]
    [InlineData("""{"user_id":1,"quota_policy":{"period_mode":"daily","quota":10,"exhausted_action":"explode"}}""", "quota_policy.exhausted_action", "disable_token")]
    [InlineData("""{"user_id":1,"status":3}""", "status", "1 (enabled)")]
    [InlineData("""{"user_id":1,"quota_policy":{"period_mode":"daily","quota":10,"metric":"bytes"}}""", "quota_policy.metric", "requests")]
    [InlineData("""{"user_id":1,"quota_policy":{"period_mode":"daily","quota":10,"models":["gpt-*-mini"]}}""", "quota_policy.models", "prefix*")]
    public async Task ABadKeyField_NamesTheFieldAndItsRealBound(string json, string field, string mentioned)
    {
        await host.CreateUserAsync();
        using HttpResponseMessage response = await host.Admin.PostAsync("/api/tokens", new StringContent(json, Encoding.UTF8, "application/json"));
        JsonElement problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Contains(mentioned, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task TextPlainOnAnAdminRoute_Is415WithAProblemBody()
    {
        using HttpResponseMessage response = await host.Admin.PostAsync("/api/users", new StringContent("""{"quota":1}""", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("application/json", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHugeLogPage_IsEmpty_NotPageOne_AndPageZeroIs400()
    {
        (int token, _) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 100, quota_policy = new { period_mode = "daily", quota = 10 } });
        using (await host.Admin.PostAsync($"/api/tokens/{token}/quota_policy/reset", null))
        {
        }

        JsonElement first = default;
        for (int attempt = 0; attempt < 600 && (first.ValueKind == JsonValueKind.Undefined || first.GetProperty("items").GetArrayLength() == 0); attempt++)
        {
            await Task.Delay(50);
            first = await host.GetJsonAsync("/api/logs?p=1");
        }

        Assert.True(first.GetProperty("items").GetArrayLength() > 0);
        JsonElement far = await host.GetJsonAsync("/api/logs?p=2147483647");
        Assert.Equal(0, far.GetProperty("items").GetArrayLength());
        using HttpResponseMessage zero = await host.Admin.GetAsync("/api/logs?p=0");
        Assert.Equal(HttpStatusCode.BadRequest, zero.StatusCode);
    }

    [Fact]
    public async Task AMegabyteKeyName_Is400NamingIt()
    {
        int user = await host.CreateUserAsync();
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/tokens", new { user_id = user, name = new string('n', 1 << 20) });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("name", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
    }

    [Fact]
    public void EveryEngineResult_HasItsOwnHttpMapping()
    {
        foreach (ReserveResult result in Enum.GetValues<ReserveResult>().Where(r => r != ReserveResult.Ok))
        {
            (int status, string code) = ReserveRejection.Of(result);
            Assert.InRange(status, 400, 599);
            Assert.False(string.IsNullOrEmpty(code));
            Assert.False(string.IsNullOrEmpty(ReserveRejection.DefaultMessage(result)));
        }

        foreach (FinishResult result in Enum.GetValues<FinishResult>().Where(r => r != FinishResult.Ok))
        {
            (int status, string code, string message) = FinishRejection.Of(result);
            Assert.InRange(status, 400, 599);
            Assert.False(string.IsNullOrEmpty(code) || string.IsNullOrEmpty(message));
        }

        foreach (SpecError error in Enum.GetValues<SpecError>().Where(e => e != SpecError.None))
        {
            (int status, _, string message) = SpecErrors.Of(error);
            Assert.InRange(status, 400, 599);
            Assert.False(string.IsNullOrEmpty(message));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => ReserveRejection.Of(ReserveResult.Ok));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReserveRejection.Of((ReserveResult)250));
        Assert.Throws<ArgumentOutOfRangeException>(() => FinishRejection.Of((FinishResult)250));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecErrors.Of((SpecError)250));
        Assert.Equal(EngineLimits.AmountMaxUnits.ToString(System.Globalization.CultureInfo.InvariantCulture), ReserveRejection.DefaultMessage(ReserveResult.InvalidAmount).Split(' ')[^1]);
    }
}
