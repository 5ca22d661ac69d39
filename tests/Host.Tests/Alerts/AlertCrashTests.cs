using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Quota.Host.Alerts;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Alerts;

/// <summary>
/// A budget alert survives a real <c>kill -9</c> of the host between the settle that crossed the threshold and the
/// outbox: the host runs as its own process, is killed with SIGKILL, and the restarted host delivers the crossing
/// (docs/alerts.md "Crashes").
/// </summary>
public sealed class AlertCrashTests
{
    private const string Secret = "0123456789abcdef-webhook-secret";

    [Fact]
    public async Task ACrossingQueuedWhenTheHostIsKilled_IsDeliveredByTheRestartedHost()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        string[] webhook = [$"--Alerts:Webhooks:ops:Url={receiver.BaseUrl}/hooks/quota", $"--Alerts:Webhooks:ops:Secret={Secret}"];

        // First run, its own process: Durable (a settle answers once its record is on disk), and an outbox that is not
        // looked at for a minute (the longest poll), so the crossing is only in the host's memory queue when the process dies.
        int token;
        using (HostProcess host = await HostProcess.StartAsync(data.Path, [.. webhook, "--Alerts:PollMs=60000", "--Quota:Durability=Durable"]))
        {
            try
            {
                HttpClient admin = host.Admin;
                int user = (await CreateAsync(admin, "/api/users", new { name = "crash", quota = 10_000 })).GetProperty("id").GetInt32();
                JsonElement created = await CreateAsync(admin, "/api/tokens", new { user_id = user, name = "crash", remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });
                token = created.GetProperty("id").GetInt32();
                string key = created.GetProperty("key").GetString()!;
                using HttpResponseMessage reserve = await admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 90 });
                string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
                using HttpResponseMessage settle = await admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 90 }); // crosses 80 %
                settle.EnsureSuccessStatusCode();
            }
            finally
            {
                await host.KillAsync();
            }
        }

        Assert.Empty(receiver.Accepted);
        await using HostUnderTest restarted = await HostUnderTest.StartAsync(data.Path, null, null, [.. webhook, "--Alerts:PollMs=20"]);
        AlertDispatcher dispatcher = restarted.Services.GetRequiredService<AlertDispatcher>();
        for (int attempt = 0; attempt < 1500 && (receiver.Accepted.IsEmpty || dispatcher.Pending > 0); attempt++)
        {
            await Task.Delay(20);
        }

        LoopbackReceiver.Received delivered = Assert.Single(receiver.Accepted);
        Assert.StartsWith($"key-{token}:policy-0:", delivered.Headers["X-Quota-Event-Id"], StringComparison.Ordinal);
        Assert.EndsWith(":80", delivered.Headers["X-Quota-Event-Id"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACheckpoint_MovesTheQueuedCrossingsIntoTheOutbox_BeforeItsSnapshotEndsTheirReplay()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null,
            $"--Alerts:Webhooks:ops:Url={receiver.BaseUrl}/hooks/quota", $"--Alerts:Webhooks:ops:Secret={Secret}", "--Alerts:PollMs=60000");
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });
        using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 100 });
        string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
        (await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 100 })).EnsureSuccessStatusCode(); // crosses 80 and 100

        AlertDispatcher dispatcher = host.Services.GetRequiredService<AlertDispatcher>();
        Assert.Equal(0, dispatcher.Pending); // queued in memory only: the dispatcher polls once a minute
        await host.Services.GetRequiredService<QuotaRuntime>().Persistent.CheckpointAsync();
        Assert.Equal(2, dispatcher.Pending);
        Assert.Equal(0L, host.Services.GetRequiredService<AlertSink>().Queued);
    }

    [Fact]
    public async Task ACheckpointBeforeTheDispatcherStarted_DoesNotEndTheReplayOfTheCrossingsARecoveryQueued()
    {
        await using LoopbackReceiver receiver = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        string[] webhook = [$"--Alerts:Webhooks:ops:Url={receiver.BaseUrl}/hooks/quota", $"--Alerts:Webhooks:ops:Secret={Secret}"];

        // First run: a crossing whose settle is durable, killed before the outbox saw it.
        using (HostProcess host = await HostProcess.StartAsync(data.Path, [.. webhook, "--Alerts:PollMs=60000", "--Quota:Durability=Durable"]))
        {
            try
            {
                int user = (await CreateAsync(host.Admin, "/api/users", new { name = "early", quota = 10_000 })).GetProperty("id").GetInt32();
                string key = (await CreateAsync(host.Admin, "/api/tokens", new { user_id = user, name = "early", remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } }))
                    .GetProperty("key").GetString()!;
                using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 90 });
                string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
                (await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 90 })).EnsureSuccessStatusCode(); // crosses 80 %
            }
            finally
            {
                await host.KillAsync();
            }
        }

        // Second run, stopped before it serves: its recovery queued the crossing again, and a checkpoint comes before
        // the dispatcher could write the outbox; then the process dies (no clean close, no further checkpoint).
        Microsoft.AspNetCore.Builder.WebApplication early = HostApp.Build(
            ["--urls", "http://127.0.0.1:0", $"--Quota:DataDir={data.Path}", $"--Quota:AdminKey={HostUnderTest.AdminKey}", "--Logging:LogLevel:Default=Warning", .. webhook]);
        QuotaRuntime runtime = early.Services.GetRequiredService<QuotaRuntime>();
        Assert.Equal(1L, early.Services.GetRequiredService<AlertSink>().Queued);
        await runtime.Persistent.CheckpointAsync();
        await runtime.Persistent.CloseWithoutCheckpointAsync();
        await early.DisposeAsync(); // the runtime is closed already: nothing more is written

        await using HostUnderTest restarted = await HostUnderTest.StartAsync(data.Path, null, null, [.. webhook, "--Alerts:PollMs=20"]);
        AlertDispatcher dispatcher = restarted.Services.GetRequiredService<AlertDispatcher>();
        for (int attempt = 0; attempt < 1500 && (receiver.Accepted.IsEmpty || dispatcher.Pending > 0); attempt++)
        {
            await Task.Delay(20);
        }

        Assert.EndsWith(":80", Assert.Single(receiver.Accepted).Headers["X-Quota-Event-Id"], StringComparison.Ordinal);
    }

    private static async Task<JsonElement> CreateAsync(HttpClient admin, string path, object body)
    {
        using HttpResponseMessage response = await admin.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
