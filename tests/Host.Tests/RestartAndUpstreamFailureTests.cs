using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>Host restarts keep everything; upstream failures refund; a client that leaves mid-stream pays for what it got.</summary>
public sealed class RestartAndUpstreamFailureTests : IDisposable
{
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    private static object Chat(bool stream = false, int maxTokens = 10) =>
        new { model = "demo-per-call", stream, max_tokens = maxTokens, messages = new[] { new { role = "user", content = "hello" } } };

    [Fact]
    public async Task AKeyWhoseLabelWasNeverStored_ACrashBetweenTheTwoStores_IsNotAGhostAfterTheRestart()
    {
        int ghost, user;
        await using (HostUnderTest first = await HostUnderTest.StartAsync(data.Path, null))
        {
            user = await first.CreateUserAsync();
            // What a crash right after the engine's record and before the label leaves: a key only the engine knows.
            var runtime = (global::Quota.Host.Runtime.QuotaRuntime)first.Services.GetService(typeof(global::Quota.Host.Runtime.QuotaRuntime))!;
            ghost = runtime.Engine.CreateToken(new global::Quota.Engine.Model.TokenSpec { UserId = user, RemainQuotaUnits = 1000 }, runtime.NowMs).Id;
        }

        await using HostUnderTest second = await HostUnderTest.StartAsync(data.Path, null);
        using HttpResponseMessage reserve = await second.Admin.PostAsJsonAsync("/api/quota/reserve", new { token_id = ghost, amount = 10 });
        Assert.NotEqual(HttpStatusCode.OK, reserve.StatusCode); // it admits nothing and charges no wallet
        Assert.Equal(0, (await second.GetJsonAsync($"/api/users/{user}")).GetProperty("reserved_quota").GetInt64());
    }

    [Fact]
    public async Task RestartingTheHost_KeepsKeysPoliciesAndCounters()
    {
        JsonElement before;
        string key;
        int token;
        await using (HostUnderTest first = await HostUnderTest.StartAsync(data.Path, null))
        {
            (token, key) = await first.CreateTokenAsync(new { user_id = await first.CreateUserAsync(), remain_quota = 1000, quota_policy = new { period_mode = "weekly", quota = 100, time_zone = "America/New_York" } });
            using (await first.ChatAsync(key, Chat()))
            {
            }

            before = await first.GetJsonAsync($"/api/tokens/{token}");
        }

        await using HostUnderTest second = await HostUnderTest.StartAsync(data.Path, null);
        Assert.Equal(before.ToString(), (await second.GetJsonAsync($"/api/tokens/{token}")).ToString());
        using HttpResponseMessage again = await second.ChatAsync(key, Chat());
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(30, (await second.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy").GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AnUpstream500_Is502UpstreamError_WithoutItsBody_AndTheReservationRefunded()
    {
        await using UpstreamUnderTest upstream = await UpstreamUnderTest.StartAsync("--Fake:FailEvery=1");
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl);
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });

        using HttpResponseMessage response = await host.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_error", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        JsonElement view = await host.GetJsonAsync($"/api/tokens/{token}");
        Assert.Equal((1000L, 0L), (view.GetProperty("remain_quota").GetInt64(), view.GetProperty("reserved_quota").GetInt64()));
    }

    [Fact]
    public async Task AnUnreachableUpstream_Is502_AndTheReservationRefunded()
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, "http://127.0.0.1:9/v1");
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });

        using HttpResponseMessage response = await host.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_error", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64());
    }

    [Fact]
    public async Task AStreamWithoutUsage_IsChargedByWhatWasStreamed_AlsoWhenTheClientLeavesEarly()
    {
        await using UpstreamUnderTest upstream = await UpstreamUnderTest.StartAsync("--Fake:OmitStreamUsage=true", "--Fake:LatencyMs=200");
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl, null, "--Pricing:Models:streamy:OutputPerMillion=1000000", "--Relay:Upstream:UsageGraceSeconds=1");
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1_000_000 });

        var body = new { model = "streamy", stream = true, max_tokens = 1000, messages = new[] { new { role = "user", content = "hi" } } };
        using (HttpResponseMessage response = await host.ChatAsync(key, body))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync(), StringComparison.Ordinal); // read one chunk, then leave
        }

        JsonElement view = default;
        for (int attempt = 0; attempt < 300; attempt++)
        {
            view = await host.GetJsonAsync($"/api/tokens/{token}");
            if (view.GetProperty("reserved_quota").GetInt64() == 0)
            {
                break;
            }

            await Task.Delay(100);
        }

        long charged = view.GetProperty("used_quota").GetInt64();
        Assert.Equal(0, view.GetProperty("reserved_quota").GetInt64());
        Assert.InRange(charged, 1, 999); // what was produced until the grace ran out (1 unit per token), below the 1000-token cap
    }
}
