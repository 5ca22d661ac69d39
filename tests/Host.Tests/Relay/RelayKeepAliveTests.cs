using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>A stream that outlives the reservation TTL keeps its reservation open and is settled at its actual.</summary>
public sealed class RelayKeepAliveTests
{
    [Fact]
    public async Task AStreamLongerThanTheReservationTtl_IsSettledAtItsActual_NotExpiredAtItsEstimate()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-06-27T03:55:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using RelayRig rig = await RelayRig.StartAsync(
            ["ChunkDelayMs=150"],
            ["Quota:ReservationTtlSeconds=3", "Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"],
            time);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"tok","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"Tell me a long story"}]}""");
        Task<string> body = response.Content.ReadAsStringAsync();
        for (int second = 0; second < 12 && !body.IsCompleted; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1)); // 12 s of engine time (4 TTLs) while the stream runs
            await Task.Delay(150);
        }

        Assert.Contains("[DONE]", await body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal("Ok", row.GetProperty("params").GetProperty("settle").GetString());
        Assert.Equal(20, row.GetProperty("completion_tokens").GetInt64());
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
        Assert.True(view.GetProperty("used_quota").GetInt64() < row.GetProperty("params").GetProperty("estimate").GetInt64() + 1);
    }
}
