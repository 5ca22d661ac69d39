using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Alerts;
using Quota.Host.Tests.Relay;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Alerts;

/// <summary>
/// The host's own events, delivered like the crossings (docs/alerts.md "Recovery", docs/relay.md "Unified limits"):
/// <c>quota.recovered</c> when an exhausted window rolls over, is reset, or its key is restored; and
/// <c>quota.burn_rate_warning</c> the first time a weekly window burns too fast — each once, with an id per window.
/// </summary>
public sealed class RecoveryAlertTests
{
    private const string Secret = "0123456789abcdef-webhook-secret";
    private const int PollMs = 20;

    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-06-27T03:55:00Z", CultureInfo.InvariantCulture));

    private static string[] Settings(LoopbackReceiver receiver) =>
    [
        $"--Alerts:Webhooks:ops:Url={receiver.BaseUrl}/hooks/quota", $"--Alerts:Webhooks:ops:Secret={Secret}",
        $"--Alerts:PollMs={PollMs}", "--Alerts:RetryBaseMs=20", "--Alerts:RetryMaxSeconds=1",
    ];

    [Fact]
    public async Task AnExhaustedWindow_ThatRollsOver_IsRecovered_OnceWithItsWindowsId()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, time, Settings(receiver));
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = TwoRequestsAMinute });
        await UseUpAsync(host, key); // crosses 80 and 100: the window is used up
        JsonElement policy = (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policy");
        long start = policy.GetProperty("period_start").GetInt64(), end = policy.GetProperty("next_reset_at").GetInt64();
        await DeliveredAsync(host, receiver, 2);
        Assert.Equal(1, host.Services.GetRequiredService<RecoveryWatch>().Count);

        time.Advance(TimeSpan.FromMinutes(1));
        JsonElement recovered = Assert.Single(await EventsAsync(host, receiver, 3, AlertMessage.RecoveredType));
        await UseUpAsync(host, key); // the next window, used up too: a new window, with its own recovery to come
        time.Advance(TimeSpan.FromSeconds(1));
        await DeliveredAsync(host, receiver, 5);

        Assert.Equal($"key-{token}:policy-0:{start * 1000}:recovered", recovered.GetProperty("id").GetString());
        Assert.Equal("rolled_over", recovered.GetProperty("reason").GetString());
        Assert.Equal(start, recovered.GetProperty("window_start").GetInt64());
        Assert.Equal(end, recovered.GetProperty("window_end").GetInt64());
        Assert.Equal((2L, 2L), (recovered.GetProperty("used").GetInt64(), recovered.GetProperty("limit").GetInt64()));
        Assert.Single(await EventsAsync(host, receiver, 5, AlertMessage.RecoveredType)); // the new window has not recovered yet
    }

    [Fact]
    public async Task AKeyPausedWithoutAutoResume_RecoversOnlyWhenReset_NotAtItsWindowsEnd()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, time, Settings(receiver));
        (int token, string key) = await host.CreateTokenAsync(new
        {
            user_id = await host.CreateUserAsync(), remain_quota = 10_000,
            quota_policy = new { period_mode = "custom", custom_minutes = 1, quota = 2, metric = "requests", exhausted_action = "disable_token", auto_resume = false },
        });
        await UseUpAsync(host, key);
        await DeliveredAsync(host, receiver, 2);

        time.Advance(TimeSpan.FromSeconds(61)); // the window ended; the key stays paused
        for (int i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(PollMs));
            await Task.Delay(PollMs);
        }

        Assert.Empty(await EventsAsync(host, receiver, 2, AlertMessage.RecoveredType));
        using HttpResponseMessage reset = await host.Admin.PostAsync($"/api/tokens/{token}/quota_policy/reset", null);
        reset.EnsureSuccessStatusCode();
        JsonElement recovered = Assert.Single(await EventsAsync(host, receiver, 3, AlertMessage.RecoveredType));

        Assert.Equal("reset", recovered.GetProperty("reason").GetString());
        Assert.StartsWith($"key-{token}:policy-0:", recovered.GetProperty("id").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeyRestoredByAnUpdate_IsRecovered_WithTheReasonRestored()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, time, Settings(receiver));
        object Policy(int quota) => new { period_mode = "custom", custom_minutes = 10, quota, exhausted_action = "disable_token" };
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = Policy(100) });
        await ChargeAsync(host, key, 100);
        await DeliveredAsync(host, receiver, 2);

        using HttpResponseMessage raised = await host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { quota_policy = Policy(1000) });
        raised.EnsureSuccessStatusCode();
        JsonElement recovered = Assert.Single(await EventsAsync(host, receiver, 3, AlertMessage.RecoveredType));

        Assert.Equal("restored", recovered.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task TheBurnRateWarning_IsAnEvent_TheFirstTimeInAWeeklyWindow()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        await using RelayRig rig = await RelayRig.StartAsync(null, url => [.. ProviderTests.Claude(url), .. Settings(receiver).Select(s => s[2..])]);
        (int token, string key) = await UnifiedHeadersTests.KeyAsync(rig,
            new { period_mode = "preset_5h", quota = 100, metric = "requests" }, new { period_mode = "weekly", quota = 10, metric = "requests" });

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage answer = await rig.MessagesAsync(key, ProviderTests.Message);
            Assert.Equal("allowed_warning", answer.Headers.GetValues("anthropic-ratelimit-unified-status").Single());
        }

        JsonElement warning = Assert.Single(await EventsAsync(rig.Host, receiver, 1, AlertMessage.BurnRateType));
        JsonElement weekly = (await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies")[1];
        Assert.Equal($"key-{token}:policy-1:{weekly.GetProperty("period_start").GetInt64() * 1000}:burn_rate", warning.GetProperty("id").GetString());
        Assert.Equal((1, 10L), (warning.GetProperty("policy_index").GetInt32(), warning.GetProperty("limit").GetInt64()));
    }

    /// <summary>Two requests a minute; a fake clock moved far fires every timer of the host on its way, so windows are short.</summary>
    private static readonly object TwoRequestsAMinute = new { period_mode = "custom", custom_minutes = 1, quota = 2, metric = "requests" };

    private static async Task UseUpAsync(HostUnderTest host, string key)
    {
        await ChargeAsync(host, key, 1);
        await ChargeAsync(host, key, 1);
    }

    private static async Task ChargeAsync(HostUnderTest host, string key, long amount)
    {
        using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount });
        if (!reserve.IsSuccessStatusCode)
        {
            return; // refused: the refusal is what the test wanted seen
        }

        string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
        using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount });
        settle.EnsureSuccessStatusCode();
    }

    /// <summary>The delivered events of <paramref name="type"/> once at least <paramref name="expected"/> events of any type arrived.</summary>
    private async Task<JsonElement[]> EventsAsync(HostUnderTest host, LoopbackReceiver receiver, int expected, string type) =>
        [.. (await DeliveredAsync(host, receiver, expected)).Select(r => JsonDocument.Parse(r.Body).RootElement).Where(e => e.GetProperty("type").GetString() == type)];

    /// <summary>Waits (moving the fake clock a poll at a time, so the dispatcher runs) until <paramref name="expected"/> deliveries arrived and nothing is pending.</summary>
    private async Task<LoopbackReceiver.Received[]> DeliveredAsync(HostUnderTest host, LoopbackReceiver receiver, int expected)
    {
        AlertDispatcher dispatcher = host.Services.GetRequiredService<AlertDispatcher>();
        AlertSink sink = host.Services.GetRequiredService<AlertSink>();
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            if (receiver.Accepted.Count >= expected && sink.Queued == 0 && dispatcher.Pending == 0)
            {
                return [.. receiver.Accepted];
            }

            if (host.Services.GetRequiredService<TimeProvider>() == time)
            {
                time.Advance(TimeSpan.FromMilliseconds(PollMs));
            }

            await Task.Delay(PollMs);
        }

        throw new Xunit.Sdk.XunitException($"expected {expected} deliveries, got {receiver.Accepted.Count}; {dispatcher.Pending} pending");
    }
}
