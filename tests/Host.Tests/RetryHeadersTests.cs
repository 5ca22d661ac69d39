using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// The retry rule of every 429 and 403 (src/Host/Errors/RetryHeaders.cs): <c>Retry-After</c> only when the key recovers
/// by itself within <c>Relay:RetryAfterMaxSeconds</c>, otherwise <c>x-should-retry: false</c> and no <c>Retry-After</c>.
/// </summary>
public sealed class RetryHeadersTests : IAsyncDisposable
{
    private readonly TempDirectory data = new();
    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-06-27T03:55:00Z", CultureInfo.InvariantCulture));
    private HostUnderTest? host;

    public async ValueTask DisposeAsync()
    {
        if (host is not null)
        {
            await host.DisposeAsync();
        }

        data.Dispose();
    }

    private static object Chat(string model = "demo-per-call") =>
        new { model, max_tokens = 10, messages = new[] { new { role = "user", content = "hi" } } };

    private async Task<HostUnderTest> StartAsync(params string[] extra) => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null, time, extra);

    /// <summary>A key whose one policy (15 units a call on demo-per-call) is exhausted by its first call.</summary>
    private static async Task<string> ExhaustedKeyAsync(HostUnderTest h, object policy)
    {
        (_, string key) = await h.CreateTokenAsync(new { user_id = await h.CreateUserAsync(), remain_quota = 1_000_000, quota_policy = policy });
        using HttpResponseMessage first = await h.ChatAsync(key, Chat());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        return key;
    }

    private static string? ShouldRetry(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-should-retry", out IEnumerable<string>? values) ? values.Single() : null;

    private static async Task<string> ErrorCodeAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString()!;

    [Fact]
    public async Task A429ThatClearsWithinTheBound_SendsRetryAfter_AndNoShouldRetry()
    {
        HostUnderTest h = await StartAsync();
        string key = await ExhaustedKeyAsync(h, new { period_mode = "custom", custom_minutes = 10, quota = 10 });
        time.Advance(TimeSpan.FromSeconds(570)); // 30 s of the 10-minute window left

        using HttpResponseMessage refused = await h.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("token_quota_policy_exhausted", await ErrorCodeAsync(refused));
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
        Assert.Null(ShouldRetry(refused));
    }

    [Fact]
    public async Task A429WithAFarReset_SendsShouldRetryFalse_NoRetryAfter_AndKeepsTheResetInRateLimitAndMessage()
    {
        HostUnderTest h = await StartAsync();
        string key = await ExhaustedKeyAsync(h, new { period_mode = "daily", quota = 10, time_zone = "Europe/Berlin" });

        using HttpResponseMessage refused = await h.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Null(refused.Headers.RetryAfter);
        Assert.Equal("false", ShouldRetry(refused));
        // The window started at creation (03:55 UTC): the reset is a whole day away, 05:55 the next day in Berlin.
        Assert.Equal("\"quota-daily\";r=0;t=86400", refused.Headers.GetValues("RateLimit").Single());
        string message = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("2026-06-28T05:55:00+02:00", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A429ThatNeedsAManualReset_SendsShouldRetryFalse_EvenWhenTheWindowEndsSoon()
    {
        HostUnderTest h = await StartAsync();
        string key = await ExhaustedKeyAsync(h, new { period_mode = "custom", custom_minutes = 10, quota = 10, exhausted_action = "disable_token", auto_resume = false });
        time.Advance(TimeSpan.FromSeconds(590));

        using HttpResponseMessage refused = await h.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Null(refused.Headers.RetryAfter);
        Assert.Equal("false", ShouldRetry(refused));
    }

    [Fact]
    public async Task Relay403s_WalletAndKeyBudget_SendShouldRetryFalse_AndNoRetryAfter()
    {
        HostUnderTest h = await StartAsync();
        (_, string poor) = await h.CreateTokenAsync(new { user_id = await h.CreateUserAsync(quota: 1), remain_quota = 1000 });
        (_, string spent) = await h.CreateTokenAsync(new { user_id = await h.CreateUserAsync(), remain_quota = 1 });

        using HttpResponseMessage wallet = await h.ChatAsync(poor, Chat());
        using HttpResponseMessage budget = await h.ChatAsync(spent, Chat());

        Assert.Equal(HttpStatusCode.Forbidden, wallet.StatusCode);
        Assert.Equal("insufficient_user_quota", await ErrorCodeAsync(wallet));
        Assert.Equal(HttpStatusCode.Forbidden, budget.StatusCode);
        Assert.Equal("pre_consume_token_quota_failed", await ErrorCodeAsync(budget));
        foreach (HttpResponseMessage response in new[] { wallet, budget })
        {
            Assert.Null(response.Headers.RetryAfter);
            Assert.Equal("false", ShouldRetry(response));
        }
    }

    [Fact]
    public async Task QuotaApiRejections_FollowTheSameRule()
    {
        HostUnderTest h = await StartAsync();
        string daily = await ExhaustedKeyAsync(h, new { period_mode = "daily", quota = 10 });
        string soon = await ExhaustedKeyAsync(h, new { period_mode = "custom", custom_minutes = 10, quota = 10 });
        (_, string poor) = await h.CreateTokenAsync(new { user_id = await h.CreateUserAsync(quota: 1), remain_quota = 1000 });
        time.Advance(TimeSpan.FromSeconds(600 - 45));

        using HttpResponseMessage far = await h.Admin.PostAsJsonAsync("/api/quota/reserve", new { key = daily, amount = 5 });
        using HttpResponseMessage near = await h.Admin.PostAsJsonAsync("/api/quota/reserve", new { key = soon, amount = 5 });
        using HttpResponseMessage wallet = await h.Admin.PostAsJsonAsync("/api/quota/reserve", new { key = poor, amount = 5 });

        Assert.Equal(HttpStatusCode.TooManyRequests, far.StatusCode);
        Assert.Null(far.Headers.RetryAfter);
        Assert.Equal("false", ShouldRetry(far));
        Assert.Equal(HttpStatusCode.TooManyRequests, near.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(45), near.Headers.RetryAfter?.Delta);
        Assert.Null(ShouldRetry(near));
        Assert.Equal(HttpStatusCode.Forbidden, wallet.StatusCode);
        Assert.Null(wallet.Headers.RetryAfter);
        Assert.Equal("false", ShouldRetry(wallet));
    }

    [Theory]
    [InlineData(900, true)]
    [InlineData(0, false)]
    public async Task TheBound_IsConfigurable(int maxSeconds, bool retryAfterExpected)
    {
        HostUnderTest h = await StartAsync($"--Relay:RetryAfterMaxSeconds={maxSeconds}");
        string key = await ExhaustedKeyAsync(h, new { period_mode = "custom", custom_minutes = 10, quota = 10 });

        using HttpResponseMessage refused = await h.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(retryAfterExpected ? TimeSpan.FromSeconds(600) : null, refused.Headers.RetryAfter?.Delta);
        Assert.Equal(retryAfterExpected ? null : "false", ShouldRetry(refused));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("3601")]
    public async Task ABoundOutOfRange_StopsTheHostAtStart_NamingTheKey(string value)
    {
        OptionsValidationException error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync($"--Relay:RetryAfterMaxSeconds={value}"));
        Assert.Contains("Relay:RetryAfterMaxSeconds", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("5", "5", null)]
    [InlineData("3600", null, "false")]
    public async Task AnUpstream429_PassesItsRetryAfterUnderTheSameBound(string upstreamRetryAfter, string? retryAfter, string? shouldRetry)
    {
        await using UpstreamUnderTest upstream = await UpstreamUnderTest.StartAsync("--Fake:FailEvery=1", "--Fake:FailStatus=429", $"--Fake:FailRetryAfter={upstreamRetryAfter}");
        host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl, time);
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1_000_000 });

        using HttpResponseMessage response = await host.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(retryAfter, response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(shouldRetry, ShouldRetry(response));
        await host.DisposeAsync(); // before the upstream goes
        host = null;
    }
}
