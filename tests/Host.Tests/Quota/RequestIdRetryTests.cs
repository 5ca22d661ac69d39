using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Quota;

/// <summary>
/// A retry of a reserve with the same request id is answered like the first attempt — only once that reservation is
/// durable — and finds it whatever happens to it meanwhile (a settle racing the retry's read); a finish refused because
/// another one ended the reservation is answered only once that end is durable.
/// </summary>
public sealed class RequestIdRetryTests : IDisposable
{
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    private static async Task<(HttpStatusCode Status, string? Id)> ReserveAsync(HostUnderTest host, string key, long amount, string requestId)
    {
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount, request_id = requestId });
        return response.StatusCode == HttpStatusCode.OK
            ? (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("reservation_id").GetString())
            : (response.StatusCode, null);
    }

    [Fact]
    public async Task InDurableMode_ARetry_IsNotAnsweredBeforeTheFirstAttemptsReservationIsDurable()
    {
        HeldDeltaLog? log = null;
        await using HostUnderTest host = await HostUnderTest.StartConfiguredAsync(data.Path, null,
            services => services.AddSingleton<DeltaLogOpener>(directory => log = new HeldDeltaLog(new FasterDeltaLog(directory))),
            "--Quota:Durability=Durable");
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 100_000 });

        log!.Hold();
        try
        {
            Task<(HttpStatusCode Status, string? Id)> first = ReserveAsync(host, key, 10, "r-durable");
            for (int attempt = 0; attempt < 500 && (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64() != 10; attempt++)
            {
                await Task.Delay(10); // the first attempt has reserved and waits for its commit
            }

            Task<(HttpStatusCode Status, string? Id)> retry = ReserveAsync(host, key, 10, "r-durable");
            await Task.WhenAny(retry, Task.Delay(1000));
            Assert.False(retry.IsCompleted, "the retry was answered while the reservation's record was not yet committed");
            Assert.False(first.IsCompleted);

            log.Release();
            (HttpStatusCode Status, string? Id)[] answers = await Task.WhenAll(first, retry);
            Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
            Assert.Equal(answers[0].Id, answers[1].Id);
        }
        finally
        {
            log.Release();
        }
    }

    [Fact]
    public async Task ARetryWhoseReadRacesTheSettleOfItsReservation_FindsThatReservation_AndReservesNothing()
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        (int token, _) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 100_000 });
        QuotaRuntime runtime = host.Services.GetRequiredService<QuotaRuntime>();
        var request = new ReserveRequest(10, 0, null);
        global::Quota.Host.Quota.RequestIdIndex.Outcome made = await runtime.RequestIds.ReserveAsync(token, request, "r-race", () => runtime.NowMs, default);
        runtime.RequestIds.Answer(made.Attempt!, held: true);
        ReservationId first = made.Reserve.Id;

        // The settle lands between the retry's two reads of the reservation's state word (on this thread, deterministically).
        global::Quota.Host.Quota.RequestIdIndex.Outcome retry;
        bool fired = false;
        RaceHooks.Set(point =>
        {
            if (point == RaceHooks.Point.ReservationRead && !fired)
            {
                fired = true;
                Assert.Equal(FinishResult.Ok, runtime.Engine.Settle(first, 10, runtime.NowMs).Result);
            }
        });
        try
        {
            // Completes on this thread: nothing to wait for (the first attempt was answered), so the hook fires here.
            ValueTask<global::Quota.Host.Quota.RequestIdIndex.Outcome> pending = runtime.RequestIds.ReserveAsync(token, request, "r-race", () => runtime.NowMs, default);
            Assert.True(pending.IsCompleted);
            retry = await pending;
        }
        finally
        {
            RaceHooks.Set(null);
        }

        Assert.True(fired);
        Assert.Equal(first, retry.Earlier?.Id);
        Assert.Equal(0, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64());
    }

    [Fact]
    public async Task InDurableMode_ARefundRefusedAsAlreadySettled_IsNotAnsweredBeforeThatSettleIsDurable()
    {
        HeldDeltaLog? log = null;
        await using HostUnderTest host = await HostUnderTest.StartConfiguredAsync(data.Path, null,
            services => services.AddSingleton<DeltaLogOpener>(directory => log = new HeldDeltaLog(new FasterDeltaLog(directory))),
            "--Quota:Durability=Durable");
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 100_000 });
        string id = (await ReserveAsync(host, key, 10, "r-settle")).Id!;

        log!.Hold();
        try
        {
            Task<HttpResponseMessage> settle = host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 7 });
            for (int attempt = 0; attempt < 500 && (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64() != 7; attempt++)
            {
                await Task.Delay(10); // settled in memory; its answer waits for the commit
            }

            Task<HttpResponseMessage> refund = host.Admin.PostAsJsonAsync("/api/quota/refund", new { reservation_id = id });
            await Task.WhenAny(refund, Task.Delay(1000));
            Assert.False(refund.IsCompleted, "the refund was told 'already settled' while that settle was not yet committed");

            log.Release();
            using HttpResponseMessage settled = await settle;
            using HttpResponseMessage refused = await refund;
            Assert.Equal(HttpStatusCode.OK, settled.StatusCode);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        }
        finally
        {
            log.Release();
        }
    }
}
