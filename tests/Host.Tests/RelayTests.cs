using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The relay over real Kestrel with tools/FakeUpstream as the provider.</summary>
public sealed class RelayTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-06-27T03:55:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private UpstreamUnderTest upstream = null!;
    private HostUnderTest host = null!;

    public async Task InitializeAsync()
    {
        upstream = await UpstreamUnderTest.StartAsync();
        host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl, time);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await upstream.DisposeAsync();
        data.Dispose();
    }

    private static object Chat(string model = "gpt-4o-mini", int maxTokens = 10, bool stream = false) =>
        new { model, stream, max_tokens = maxTokens, messages = new[] { new { role = "user", content = "Say something nice please" } } };

    [Fact]
    public async Task NonStream_SettlesFromTheUpstreamUsage_AndSendsRateLimitHeaders()
    {
        int user = await host.CreateUserAsync();
        (int token, string key) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000, quota_policy = new { period_mode = "daily", quota = 100_000, time_zone = "Europe/Berlin" } });

        using HttpResponseMessage response = await host.ChatAsync(key, Chat(maxTokens: 10));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement body = await response.Content.ReadFromJsonAsync<JsonElement>();
        long prompt = body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64(), completion = body.GetProperty("usage").GetProperty("completion_tokens").GetInt64();
        long expected = ((prompt * 75_000) + (completion * 300_000) + 999_999) / 1_000_000;
        JsonElement policy = (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy");
        Assert.Equal(expected, policy.GetProperty("used_quota").GetInt64());
        Assert.Equal(0, policy.GetProperty("reserved_quota").GetInt64());
        Assert.Equal("\"quota-daily\";q=100000;w=86400", response.Headers.GetValues("RateLimit-Policy").Single());
        Assert.StartsWith($"\"quota-daily\";r={100_000 - expected};t=", response.Headers.GetValues("RateLimit").Single(), StringComparison.Ordinal);

        JsonElement quota = await (await Authorized(key, "/v1/quota")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(100_000 - expected, quota.GetProperty("policies")[0].GetProperty("remaining").GetInt64());
    }

    [Fact]
    public async Task SeedEndToEnd_StrictCustomTenMinutePolicyOf20_At15PerCall_ThenRecoversInTheNextWindow()
    {
        // The original gateway's end-to-end case, through this relay's HTTP API.
        int user = await host.CreateUserAsync(1000);
        (int token, string key) = await host.CreateTokenAsync(new
        {
            user_id = user,
            remain_quota = 1000,
            quota_policy = new { period_mode = "custom", custom_minutes = 10, quota = 20, boundary_mode = "strict_pre_check", exhausted_action = "reject_only", auto_resume = true },
        });

        using (HttpResponseMessage first = await host.ChatAsync(key, Chat("demo-per-call")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        Assert.Equal(1, await upstream.RequestsAsync());
        using (HttpResponseMessage second = await host.ChatAsync(key, Chat("demo-per-call")))
        {
            Assert.Equal((HttpStatusCode)429, second.StatusCode);
            JsonElement error = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal("token_quota_policy_exhausted", error.GetProperty("code").GetString());
            Assert.DoesNotContain("15", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("20", error.GetProperty("message").GetString()!.Replace("2026", "", StringComparison.Ordinal), StringComparison.Ordinal);
            // The window ends in 10 minutes, past Relay:RetryAfterMaxSeconds (60): no Retry-After, and clients are told not to retry.
            Assert.Null(second.Headers.RetryAfter);
            Assert.Equal("false", second.Headers.GetValues("x-should-retry").Single());
        }

        Assert.Equal(1, await upstream.RequestsAsync()); // a rejection never calls upstream
        JsonElement policy = (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy");
        Assert.Equal(15, policy.GetProperty("used_quota").GetInt64());
        Assert.Equal(0, policy.GetProperty("exhausted_at").GetInt64());

        time.Advance(TimeSpan.FromMinutes(10));
        using (HttpResponseMessage third = await host.ChatAsync(key, Chat("demo-per-call")))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        }

        Assert.Equal(2, await upstream.RequestsAsync());
        policy = (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy");
        Assert.Equal(15, policy.GetProperty("used_quota").GetInt64());
        Assert.True(policy.GetProperty("next_reset_at").GetInt64() > time.GetUtcNow().ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Stream_IsPassedThrough_AndSettledFromTheFinalUsageChunk()
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1_000_000 });
        using HttpResponseMessage response = await host.ChatAsync(key, Chat("demo-per-call", maxTokens: 7, stream: true));
        string sse = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"usage\"", sse, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", sse, StringComparison.Ordinal);
        Assert.Equal(15, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task UnknownKey_UnknownModel_AndMalformedBodies_AreRefusedClearly()
    {
        using (HttpResponseMessage unknown = await host.ChatAsync("sk-nope", Chat()))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
            Assert.Equal("invalid_api_key", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        }

        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });
        using (HttpResponseMessage model = await host.ChatAsync(key, Chat("no-such-model")))
        {
            Assert.Equal(HttpStatusCode.NotFound, model.StatusCode);
            Assert.Equal("model_not_found", (await model.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        }

        var malformed = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json") };
        malformed.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using HttpResponseMessage bad = await host.Client.SendAsync(malformed);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("body", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task APolicyRejection_IsLocalized_AndNamesTheRecoveryTimeWithThePolicyOffset()
    {
        (int token, string key) = await host.CreateTokenAsync(new
        {
            user_id = await host.CreateUserAsync(),
            remain_quota = 1_000_000,
            quota_policy = new { period_mode = "daily", quota = 10, time_zone = "Asia/Shanghai", exhausted_action = "disable_token" },
        });
        using (await host.ChatAsync(key, Chat("demo-per-call")))
        {
        }

        using HttpResponseMessage zh = await host.ChatAsync(key, Chat("demo-per-call"), "zh-CN,zh;q=0.9");
        string message = (await zh.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString()!;
        Assert.Equal((HttpStatusCode)429, zh.StatusCode);
        Assert.Contains("周期额度已耗尽", message, StringComparison.Ordinal);
        Assert.Contains("+08:00", message, StringComparison.Ordinal);
        Assert.Equal("quota_policy_disabled", (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("display_status").GetString());

        using HttpResponseMessage en = await host.ChatAsync(key, Chat("demo-per-call"));
        Assert.Contains("expected to automatically recover around 2026-06-28T11:55:00+08:00", (await en.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        foreach ((string language, string headline) in new[]
        {
            ("fr-FR,fr;q=0.9,en;q=0.8", "Le quota périodique de la clé API est épuisé"),
            ("ja-JP", "API キーの期間クォータを使い切りました"),
            ("ru", "Периодическая квота API-ключа исчерпана"),
            ("vi-VN,vi;q=0.9", "Hạn mức định kỳ của khóa API đã hết"),
        })
        {
            using HttpResponseMessage refused = await host.ChatAsync(key, Chat("demo-per-call"), language);
            string localized = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString()!;
            Assert.Equal((HttpStatusCode)429, refused.StatusCode);
            Assert.StartsWith(headline, localized, StringComparison.Ordinal);
            Assert.Contains("2026-06-28T11:55:00+08:00", localized, StringComparison.Ordinal);
        }
    }

    private Task<HttpResponseMessage> Authorized(string key, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return host.Client.SendAsync(request);
    }
}
