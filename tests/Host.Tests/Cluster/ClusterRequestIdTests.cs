using System.Net;
using System.Net.Http.Json;
using StackExchange.Redis;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>Request-id retries in cluster mode: a retry is answered only with what the first attempt's leases decided.</summary>
public sealed class ClusterRequestIdTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task ARetryArrivingWhileTheFirstAttemptWaitsOnAGrant_GetsThatAttemptsRefusal_NotItsRefundedReservation()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 1);
        HostUnderTest node = rig.Nodes[0];
        await node.CreateUserAsync();
        (int id, string key) = await node.CreateTokenAsync(ClusterHostTests.StrictDaily(5)); // a 10-unit estimate never fits

        await using ConnectionMultiplexer control = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        await control.GetServers()[0].ExecuteAsync("CLIENT", "PAUSE", "1500", "WRITE"); // the grant (a script) waits this long
        Task<HttpResponseMessage> first = node.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10, request_id = "r-grant" });
        await Task.Delay(300); // the first attempt has reserved locally and waits on the store
        using HttpResponseMessage retry = await node.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10, request_id = "r-grant" });
        using HttpResponseMessage firstAnswer = await first;

        Assert.Equal(HttpStatusCode.TooManyRequests, firstAnswer.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, retry.StatusCode);
        Assert.Equal(0, (await node.GetJsonAsync($"/api/tokens/{id}")).GetProperty("quota_policies")[0].GetProperty("reserved_quota").GetInt64());
    }
}
