using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Quota.Host.Alerts;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Alerts;

/// <summary>
/// A burst of crossings larger than any in-memory batch: every one reaches the outbox, none is dropped on the way
/// (docs/alerts.md "Once per window, at least once").
/// </summary>
public sealed class AlertBurstTests
{
    private const string Secret = "0123456789abcdef-webhook-secret";
    private const int Keys = 700;
    private static readonly string[] Periods = ["daily", "weekly", "monthly", "preset_5h"];

    [Fact]
    public async Task ABurstOf11200Crossings_ReachesTheOutboxWhole()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        // The outbox is not looked at for a minute, so the whole burst waits in the host's memory until the checkpoint.
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null,
            $"--Alerts:Webhooks:ops:Url={receiver.BaseUrl}/hooks/quota", $"--Alerts:Webhooks:ops:Secret={Secret}", "--Alerts:PollMs=60000",
            "--Alerts:Thresholds:0=25", "--Alerts:Thresholds:1=50", "--Alerts:Thresholds:2=75", "--Alerts:Thresholds:3=100");
        int user = await host.CreateUserAsync(quota: 1_000_000_000);
        var policies = Periods.Select(period => new { period_mode = period, quota = 100 }).ToArray();

        // Each key: 4 policies × 4 thresholds, all crossed by one 100-unit settle = 16 crossings; 700 keys = 11,200.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (int i = worker; i < Keys; i += 4)
            {
                (_, string key) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 10_000, quota_policies = policies });
                using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 100 });
                string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
                using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 100 });
                settle.EnsureSuccessStatusCode();
            }
        })));

        AlertDispatcher dispatcher = host.Services.GetRequiredService<AlertDispatcher>();
        Assert.Equal(0, dispatcher.Pending);
        await host.Services.GetRequiredService<QuotaRuntime>().Persistent.CheckpointAsync(); // moves every queued crossing into the outbox
        Assert.Equal(Keys * Periods.Length * 4, dispatcher.Pending);
    }
}
