using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Quota.Host.Alerts;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Alerts;

/// <summary>Budget alerts delivered to a real webhook receiver on loopback: once per crossing, signed, at least once across failures and restarts.</summary>
public sealed class AlertWebhookTests
{
    private const string Secret = "0123456789abcdef-webhook-secret";

    private static string[] Settings(LoopbackReceiver receiver, int pollMs = 20) =>
    [
        $"--Alerts:Webhooks:ops:Url={receiver.BaseUrl}/hooks/quota",
        $"--Alerts:Webhooks:ops:Secret={Secret}",
        $"--Alerts:PollMs={pollMs}",
        "--Alerts:RetryBaseMs=20",
        "--Alerts:RetryMaxSeconds=1",
    ];

    [Fact]
    public async Task EachCrossing_IsDeliveredOnce_SignedWithTheSecret_WithItsIdempotencyId()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, Settings(receiver));
        int user = await host.CreateUserAsync(quota: 200);
        (int token, string key) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });
        (int plain, string plainKey) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 10_000 });

        await ChargeAsync(host, key, 50);      // policy 50 %, wallet 25 %: nothing
        await ChargeAsync(host, key, 35);      // policy 85 %: crosses 80
        await ChargeAsync(host, key, 20);      // policy 105 %: crosses 100
        await ChargeAsync(host, plainKey, 60); // wallet 165 of 200: crosses 80 % (no policy on this key)
        await ChargeAsync(host, plainKey, 1);  // crosses nothing

        LoopbackReceiver.Received[] delivered = await DeliveredAsync(host, receiver, 3);
        JsonElement[] bodies = [.. delivered.Select(r => JsonDocument.Parse(r.Body).RootElement)];
        Assert.Equal(
            [("policy", token, 80, 85L, 100L), ("policy", token, 100, 105L, 100L), ("wallet", plain, 80, 165L, 200L)],
            bodies.Select(b => (b.GetProperty("scope").GetString(), b.GetProperty("token_id").GetInt32(), b.GetProperty("threshold_percent").GetInt32(),
                b.GetProperty("used").GetInt64(), b.GetProperty("limit").GetInt64())).OrderBy(b => b.Item1).ThenBy(b => b.Item3));
        foreach (LoopbackReceiver.Received received in delivered)
        {
            Assert.Equal("/hooks/quota", received.Path);
            // t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">: the delivery's time is signed with its body
            string[] signature = received.Headers["X-Quota-Signature"].Split(',');
            Assert.Equal(2, signature.Length);
            Assert.StartsWith("t=", signature[0], StringComparison.Ordinal);
            long t = long.Parse(signature[0][2..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(t, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
            byte[] signed = [.. Encoding.UTF8.GetBytes(signature[0][2..] + "."), .. received.Body];
            Assert.Equal("v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), signed)), signature[1]);
            Assert.Equal(JsonDocument.Parse(received.Body).RootElement.GetProperty("id").GetString(), received.Headers["X-Quota-Event-Id"]);
        }

        Assert.Equal(3, delivered.Select(r => r.Headers["X-Quota-Event-Id"]).Distinct().Count());
        Assert.Equal(2, delivered.Count(r => r.Headers["X-Quota-Event-Id"].StartsWith($"key-{token}:policy-0:", StringComparison.Ordinal)));
        Assert.Single(delivered, r => r.Headers["X-Quota-Event-Id"].StartsWith($"user-{user}:wallet:", StringComparison.Ordinal));
        JsonElement rows = await host.GetJsonAsync("/api/logs?action=quota.threshold_reached");
        Assert.Equal(3, rows.GetProperty("total").GetInt32()); // the engine emitted exactly three: one per crossing
        Assert.Contains("quota_alerts_total", await host.Client.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReceiverThatFails_GetsTheSameEventAgain_AndTheFailuresAreCounted()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync(failFirst: 2);
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, Settings(receiver));
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });

        await ChargeAsync(host, key, 100); // crosses 80 and 100 at once

        LoopbackReceiver.Received[] delivered = await DeliveredAsync(host, receiver, 2);
        Assert.Equal(2, receiver.Refused);
        Assert.Equal(2, delivered.Select(r => r.Headers["X-Quota-Event-Id"]).Distinct().Count());
        string metrics = await host.Client.GetStringAsync("/metrics");
        Assert.Contains("quota_alert_deliveries_failed_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMessageGivenUpAfterItsLastTry_IsCountedAsUndelivered()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync(failFirst: 1_000);
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, [.. Settings(receiver), "--Alerts:AttemptsMax=2"]);
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });

        await ChargeAsync(host, key, 100); // crosses 80 and 100: two messages, each refused twice, then given up

        string given = "";
        for (int attempt = 0; attempt < 500 && given != "2"; attempt++)
        {
            await Task.Delay(20);
            string? line = (await host.Client.GetStringAsync("/metrics")).Split('\n')
                .FirstOrDefault(l => l.StartsWith("quota_alerts_undelivered_total{", StringComparison.Ordinal) && l.Contains("webhook=\"ops\"", StringComparison.Ordinal));
            given = line?.Split(' ')[1] ?? "";
        }

        Assert.Equal("2", given);
        Assert.Equal(0, host.Services.GetRequiredService<AlertDispatcher>().Pending);
        Assert.Equal(4, receiver.Refused);
    }

    [Fact]
    public async Task AlertsNotYetDelivered_WhenTheHostStops_ArriveAfterTheRestart()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        int token;
        // First run: the outbox is never looked at (a one-minute poll), so the alert is only queued when the host stops.
        await using (HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, Settings(receiver, pollMs: 60_000)))
        {
            string key;
            (token, key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });
            await ChargeAsync(host, key, 90); // crosses 80
        }

        Assert.Empty(receiver.Accepted);
        await using (HostUnderTest restarted = await HostUnderTest.StartAsync(data.Path, null, null, Settings(receiver)))
        {
            LoopbackReceiver.Received delivered = Assert.Single(await DeliveredAsync(restarted, receiver, 1));
            Assert.StartsWith($"key-{token}:policy-0:", delivered.Headers["X-Quota-Event-Id"], StringComparison.Ordinal);
            Assert.EndsWith(":80", delivered.Headers["X-Quota-Event-Id"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AnIdleDispatcher_Sleeps_AndReadsTheOutboxOnlyWhenSomethingMayBeDue()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync(failFirst: 1);
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, Settings(receiver));
        AlertDispatcher dispatcher = host.Services.GetRequiredService<AlertDispatcher>();
        await Task.Delay(1000); // 50 rounds at 20 ms if it polled: it sleeps after the first, which reads what a previous run left
        Assert.InRange(dispatcher.OutboxReads, 1, 2);
        Assert.InRange(dispatcher.Rounds, 1, 3);

        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });
        await ChargeAsync(host, key, 85); // crosses 80: refused once, then delivered on its retry
        Assert.Single(await DeliveredAsync(host, receiver, 1));
        Assert.Equal(1, receiver.Refused);
        (long readsAfter, long roundsAfter) = (dispatcher.OutboxReads, dispatcher.Rounds);
        await Task.Delay(1000);
        Assert.Equal(readsAfter, dispatcher.OutboxReads);
        Assert.InRange(dispatcher.Rounds - roundsAfter, 0, 2);
    }

    private static async Task ChargeAsync(HostUnderTest host, string key, long amount)
    {
        using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount });
        string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
        using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount });
        settle.EnsureSuccessStatusCode();
    }

    /// <summary>Waits until <paramref name="expected"/> deliveries arrived and nothing is left to deliver; returns them.</summary>
    private static async Task<LoopbackReceiver.Received[]> DeliveredAsync(HostUnderTest host, LoopbackReceiver receiver, int expected)
    {
        AlertDispatcher dispatcher = host.Services.GetRequiredService<AlertDispatcher>();
        AlertSink sink = host.Services.GetRequiredService<AlertSink>();
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            if (receiver.Accepted.Count >= expected && sink.Queued == 0 && dispatcher.Pending == 0)
            {
                return [.. receiver.Accepted];
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException($"expected {expected} deliveries, got {receiver.Accepted.Count}; {dispatcher.Pending} pending");
    }
}
