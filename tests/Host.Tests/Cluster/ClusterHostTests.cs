using Microsoft.Extensions.DependencyInjection;
using Quota.Host.Cluster;
using System.Net;
using System.Net.Http.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>Two and three real hosts sharing one real redis-server: configuration, leases, pauses, reads, store loss.</summary>
public sealed class ClusterHostTests(RedisServer redis) : IClassFixture<RedisServer>
{
    internal static object StrictDaily(long quota, string action = "reject_only", string boundary = "strict_pre_check") => new
    {
        user_id = 1, name = "k", remain_quota = 1_000_000,
        quota_policy = new { period_mode = "daily", quota, boundary_mode = boundary, exhausted_action = action },
    };

    [Fact]
    public async Task AKeyCreatedOnOneNode_IsServedByTheOthers_WithTheSameId()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(100));
        (HttpStatusCode status, string? reservation) = await ClusterRig.ReserveAsync(rig.Nodes[1], key, 10);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[1], reservation!, 10));
        Assert.Equal(id, (await rig.Nodes[1].GetJsonAsync($"/api/tokens/{id}")).GetProperty("id").GetInt32());
        await rig.WaitPolicyUsedAsync(id, 10);
    }

    [Fact]
    public async Task AGatewayKey_ReservesAndSettlesOnItsNode_AndIsNotKnownToTheOthers()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(100));
        using HttpResponseMessage created = await rig.Nodes[0].Admin.PostAsJsonAsync("/api/gateway_keys", new { name = "edge" });
        string gatewayKey = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("key").GetString()!;

        using var onItsNode = new HttpClient { BaseAddress = rig.Nodes[0].Client.BaseAddress };
        onItsNode.DefaultRequestHeaders.Authorization = new("Bearer", gatewayKey);
        using HttpResponseMessage reserve = await onItsNode.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10 });
        Assert.Equal(HttpStatusCode.OK, reserve.StatusCode);
        string reservation = (await reserve.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("reservation_id").GetString()!;
        using HttpResponseMessage settle = await onItsNode.PostAsJsonAsync("/api/quota/settle", new { reservation_id = reservation, amount = 8 });
        Assert.Equal(HttpStatusCode.OK, settle.StatusCode);
        await rig.WaitPolicyUsedAsync(id, 8); // counted cluster-wide like any other charge

        using var onAnotherNode = new HttpClient { BaseAddress = rig.Nodes[1].Client.BaseAddress };
        onAnotherNode.DefaultRequestHeaders.Authorization = new("Bearer", gatewayKey);
        using HttpResponseMessage elsewhere = await onAnotherNode.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10 });
        Assert.Equal(HttpStatusCode.Unauthorized, elsewhere.StatusCode); // gateway keys do not replicate (docs/cluster.md)
    }

    [Fact]
    public Task AStrictPolicy_IsNeverOverAdmitted_WithConcurrentTrafficOnEveryNode() => StrictNeverOverAdmittedAsync(redis.ConnectionString);

    /// <summary>The core cluster guarantee, on any store: 3 nodes, 9 concurrent clients, a strict window of 1000.</summary>
    internal static async Task StrictNeverOverAdmittedAsync(string store)
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(store, 3);
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(1_000));
        long acknowledged = 0;
        await Task.WhenAll(Enumerable.Range(0, 9).Select(worker => Task.Run(async () =>
        {
            HostUnderTest node = rig.Nodes[worker % 3];
            for (int i = 0; i < 60; i++)
            {
                (HttpStatusCode status, string? reservation) = await ClusterRig.ReserveAsync(node, key, 7);
                if (status == HttpStatusCode.OK && await ClusterRig.SettleAsync(node, reservation!, 5) == HttpStatusCode.OK)
                {
                    Interlocked.Add(ref acknowledged, 5);
                }
            }
        })));

        Assert.True(acknowledged > 0);
        await rig.WaitPolicyUsedAsync(id, acknowledged); // every acknowledged charge is counted once, on every node's view
        Assert.True(acknowledged <= 1_000, $"{acknowledged} charged against a strict quota of 1000");
        Assert.True(acknowledged >= 1_000 - 7 * 5 * 3, $"the leases left {1_000 - acknowledged} of 1000 unused"); // 180 requests of 7 were asked
    }

    [Fact]
    public async Task RelayTraffic_OnTwoNodes_AdmitsExactlyARequestsQuota()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2); // the built-in demo upstream answers
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(new
        {
            user_id = 1, name = "rpm", remain_quota = 1_000_000_000,
            quota_policy = new { period_mode = "daily", quota = 10, metric = "requests", boundary_mode = "strict_pre_check" },
        });
        var chat = new { model = "gpt-4o-mini", max_tokens = 10, messages = new[] { new { role = "user", content = "hello" } } };
        HttpStatusCode[] answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using HttpResponseMessage response = await rig.Nodes[i % 2].ChatAsync(key, chat);
            await response.Content.ReadAsStringAsync();
            return response.StatusCode;
        }));

        Assert.Equal(10, answers.Count(a => a == HttpStatusCode.OK));
        Assert.Equal(20, answers.Count(a => a == HttpStatusCode.TooManyRequests));
        await rig.WaitPolicyUsedAsync(id, 10);
    }

    [Fact]
    public async Task AGracefulPolicy_IsCrossedByAtMostOneRequestPerNode()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(100, boundary: "graceful_boundary"));
        long acknowledged = 0;
        await Task.WhenAll(Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            HostUnderTest node = rig.Nodes[worker % 2];
            for (int i = 0; i < 20; i++)
            {
                (HttpStatusCode status, string? reservation) = await ClusterRig.ReserveAsync(node, key, 30);
                if (status == HttpStatusCode.OK && await ClusterRig.SettleAsync(node, reservation!, 30) == HttpStatusCode.OK)
                {
                    Interlocked.Add(ref acknowledged, 30);
                }
            }
        })));

        await rig.WaitPolicyUsedAsync(id, acknowledged);
        Assert.InRange(acknowledged, 100, 100 + 2 * 30); // crossed, by at most one request of 30 per node
    }

    [Fact]
    public async Task AKeyPausedByOneNode_IsRefusedByTheOther_WithinAReportInterval()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(100, "disable_token", "graceful_boundary"));
        (_, string? warm) = await ClusterRig.ReserveAsync(rig.Nodes[1], key, 1); // node 1 now holds a lease on the window
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[1], warm!, 1));

        (_, string? big) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 50);
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[0], big!, 150)); // the crossing request

        HttpStatusCode refused = HttpStatusCode.OK;
        for (int attempt = 0; attempt < 100 && refused == HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(20);
            (refused, string? admitted) = await ClusterRig.ReserveAsync(rig.Nodes[1], key, 1);
            if (admitted is not null)
            {
                await ClusterRig.SettleAsync(rig.Nodes[1], admitted, 0);
            }
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, refused);
        Assert.Equal("quota_policy_disabled", (await rig.Nodes[1].GetJsonAsync($"/api/tokens/{id}")).GetProperty("display_status").GetString());

        using HttpResponseMessage reset = await rig.Nodes[1].Admin.PostAsync($"/api/tokens/{id}/quota_policy/reset", null);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        HttpStatusCode again = HttpStatusCode.TooManyRequests;
        for (int attempt = 0; attempt < 100 && again != HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(20);
            (again, _) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 1);
        }

        Assert.Equal(HttpStatusCode.OK, again);
    }

    [Fact]
    public async Task AWalletToppedUpOnOneNode_IsSpentOnTheOther_AndReadTheSameEverywhere()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        int user = await rig.Nodes[0].CreateUserAsync(quota: 10);
        (_, string key) = await rig.Nodes[0].CreateTokenAsync(new { user_id = user, name = "w", unlimited_quota = true });
        Assert.Equal(HttpStatusCode.Forbidden, (await ClusterRig.ReserveAsync(rig.Nodes[1], key, 20)).Status);

        using HttpResponseMessage topUp = await rig.Nodes[0].Admin.PostAsJsonAsync($"/api/users/{user}/quota", new { delta = 100 });
        Assert.Equal(HttpStatusCode.OK, topUp.StatusCode);
        (HttpStatusCode status, string? id) = await ClusterRig.ReserveAsync(rig.Nodes[1], key, 20);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[1], id!, 20));
        for (int attempt = 0; attempt < 100; attempt++)
        {
            if ((await rig.Nodes[0].GetJsonAsync($"/api/users/{user}")).GetProperty("used_quota").GetInt64() == 20)
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.Equal(90, (await rig.Nodes[0].GetJsonAsync($"/api/users/{user}")).GetProperty("quota").GetInt64());
        Assert.Equal(90, (await rig.Nodes[1].GetJsonAsync($"/api/users/{user}")).GetProperty("quota").GetInt64());
    }

    [Fact]
    public async Task AUsersPriceGroup_IsReplicated_AndPricesItsRequestsOnEveryNode()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2, "--Pricing:Groups:gold:MultiplierPerMille=1500");
        using (HttpResponseMessage created = await rig.Nodes[0].Admin.PostAsJsonAsync("/api/users", new { name = "u", quota = 1_000_000, group = "gold" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(1_000));
        var chat = new { model = "demo-per-call", max_tokens = 5, messages = new[] { new { role = "user", content = "hello" } } }; // 15 units a call
        await WaitGroupAsync(rig.Nodes[1], "gold");
        using (HttpResponseMessage first = await rig.Nodes[1].ChatAsync(key, chat))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            await first.Content.ReadAsStringAsync();
        }

        await rig.WaitPolicyUsedAsync(id, 23); // 15 × 1.5, rounded up

        using (HttpResponseMessage moved = await rig.Nodes[0].Admin.PutAsJsonAsync("/api/users/1", new { group = "default" }))
        {
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        }

        await WaitGroupAsync(rig.Nodes[1], "default");
        using (HttpResponseMessage second = await rig.Nodes[1].ChatAsync(key, chat))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            await second.Content.ReadAsStringAsync();
        }

        await rig.WaitPolicyUsedAsync(id, 23 + 15);
        for (int attempt = 0; attempt < 100 && (await rig.Nodes[0].GetJsonAsync("/api/users/1")).GetProperty("used_quota").GetInt64() != 38; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1_000_000 - 38, (await rig.Nodes[0].GetJsonAsync("/api/users/1")).GetProperty("quota").GetInt64()); // the regroup left the wallet alone
    }

    private static async Task WaitGroupAsync(HostUnderTest node, string group)
    {
        string? seen = null;
        for (int attempt = 0; attempt < 200 && seen != group; attempt++)
        {
            using HttpResponseMessage user = await node.Admin.GetAsync("/api/users/1");
            seen = user.IsSuccessStatusCode ? (await user.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("group").GetString() : null;
            await Task.Delay(seen == group ? 0 : 50);
        }

        Assert.Equal(group, seen);
    }

    [Fact]
    public async Task WithoutTheStore_ANodeServesFromItsLease_ThenRefusesWith503()
    {
        using var store = new RedisServer(); // its own, to kill
        // A lease long enough to outlive the kill on a loaded machine (it lapses here after two thirds of it: 10 s).
        await using ClusterRig rig = await ClusterRig.StartAsync(store.ConnectionString, 1, "--Cluster:LeaseSeconds=15");
        await rig.Nodes[0].CreateUserAsync();
        (_, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(100_000));
        (_, string? first) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 10);
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[0], first!, 10));

        store.Dispose();
        Assert.Equal(HttpStatusCode.OK, (await ClusterRig.ReserveAsync(rig.Nodes[0], key, 10)).Status); // the lease still covers it
        HttpStatusCode status = HttpStatusCode.OK;
        for (int attempt = 0; attempt < 300 && status == HttpStatusCode.OK; attempt++) // until the lease lapsed here (bounded: 30 s)
        {
            await Task.Delay(100);
            (status, _) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 10);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status); // fail closed once the lease lapsed here
        using HttpResponseMessage write = await rig.Nodes[0].Admin.PostAsJsonAsync("/api/users", new { name = "later", quota = 5 });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, write.StatusCode); // a configuration write without the store: retry later, never a 500
        Assert.Contains("service_unavailable", await write.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithFailOpenUnits_ANodeWithoutTheStoreOrALease_AdmitsThatMuchPerAccount_ThenRefusesWith503()
    {
        using var store = new RedisServer(); // its own, to kill
        await using ClusterRig rig = await ClusterRig.StartAsync(store.ConnectionString, 1, "--Cluster:LeaseSeconds=3", "--Cluster:FailOpenUnits=30");
        await rig.Nodes[0].CreateUserAsync();
        (_, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(100_000));
        (_, string? first) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 10);
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[0], first!, 10));

        store.Dispose();
        await Task.Delay(3_000); // every lease lapsed here (two thirds of 3 s after its last renewal)
        int admitted = 0;
        HttpStatusCode status = HttpStatusCode.OK;
        for (int attempt = 0; attempt < 10 && status == HttpStatusCode.OK; attempt++)
        {
            (status, string? id) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 10);
            if (id is not null)
            {
                admitted++;
                await ClusterRig.SettleAsync(rig.Nodes[0], id, 10);
            }
        }

        Assert.Equal(3, admitted); // 30 units of each account (wallet, budget, window), 10 a request
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
    }

    [Fact]
    public async Task ALeaseTheStoreHoldsForAnIdleNode_BeyondWhatTheNodeCounts_IsReleased()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 1);
        await rig.Nodes[0].CreateUserAsync();
        (int id, string key) = await rig.Nodes[0].CreateTokenAsync(StrictDaily(1_000));
        (_, string? first) = await ClusterRig.ReserveAsync(rig.Nodes[0], key, 10);
        Assert.Equal(HttpStatusCode.OK, await ClusterRig.SettleAsync(rig.Nodes[0], first!, 10));

        // A grant the store applied for this node whose answer never reached it (a timeout under load): the same NodeId asks.
        ClusterStore node = rig.Nodes[0].Services.GetRequiredService<ClusterNode>().Store;
        await using ClusterStore lost = await ClusterStore.ConnectAsync(new ClusterOptions
        {
            Store = redis.ConnectionString, NodeId = node.NodeId, KeyPrefix = node.AccountsPrefix[..^"a:".Length],
        });
        lost.Epoch = node.Epoch;
        long windowStartMs = (await rig.Nodes[0].GetJsonAsync($"/api/tokens/{id}")).GetProperty("quota_policies")[0].GetProperty("period_start").GetInt64() * 1000;
        Assert.Equal(50, (await lost.GrantAsync(node.WindowAccount(id, 0, windowStartMs), 50, 50, 1_000, TimeSpan.FromSeconds(30), 0, graceful: false)).Granted);

        long leased = -1;
        for (int attempt = 0; attempt < 100 && leased != 0; attempt++) // the node goes idle after 2 s
        {
            await Task.Delay(100);
            leased = (await rig.Nodes[0].GetJsonAsync($"/api/tokens/{id}")).GetProperty("quota_policies")[0].GetProperty("reserved_quota").GetInt64();
        }

        Assert.Equal(0, leased);
    }

    [Fact]
    public async Task ASecondLiveNodeWithTheSameNodeId_DoesNotStart()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 1);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => rig.AddNodeAsync(redis.ConnectionString, "node0"));
        Assert.Contains("Cluster:NodeId 'node0' is held by another live node", error.Message, StringComparison.Ordinal);
        await rig.Nodes[0].CreateUserAsync(); // the first one is unharmed
    }

    [Fact]
    public async Task TheClusterRoutes_ShowTheStoreState_AndRefuseAReseedThatIsNotNeeded_OrNamesNoValidNode()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 1);
        System.Text.Json.JsonElement status = await rig.Nodes[0].GetJsonAsync("/api/cluster");
        Assert.Equal("serving", status.GetProperty("state").GetString());
        Assert.Equal(status.GetProperty("epoch").GetString(), status.GetProperty("store_epoch").GetString());

        using HttpResponseMessage badNode = await rig.Nodes[0].Admin.PostAsJsonAsync("/api/cluster/reseed", new { nodes = (string[])["n1", "not a node id"] });
        Assert.Equal(HttpStatusCode.BadRequest, badNode.StatusCode);
        Assert.Contains("\"field\":\"nodes\"", await badNode.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using HttpResponseMessage notLost = await rig.Nodes[0].Admin.PostAsJsonAsync("/api/cluster/reseed", new { nodes = (string[])["node0"] });
        Assert.Equal(HttpStatusCode.Conflict, notLost.StatusCode); // the store has its data: nothing is rebuilt
        Assert.Equal("serving", (await rig.Nodes[0].GetJsonAsync("/api/cluster")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task ANegativeFailOpenUnits_StopsTheHostWithAClearMessage()
    {
        using var dir = new TempDirectory();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => HostUnderTest.StartAsync(dir.Path, null, null,
            $"--Cluster:Store={redis.ConnectionString}", "--Cluster:NodeId=n1", "--Cluster:FailOpenUnits=-1"));
        Assert.Contains("Cluster:FailOpenUnits", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClusterModeWithoutANodeId_StopsTheHostWithAClearMessage()
    {
        using var dir = new TempDirectory();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => HostUnderTest.StartAsync(dir.Path, null, null, $"--Cluster:Store={redis.ConnectionString}"));
        Assert.Contains("Cluster:NodeId", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The core cluster test on Garnet (docs/cluster.md lists the stores tested).</summary>
public sealed class GarnetClusterTests(GarnetServer garnet) : IClassFixture<GarnetServer>
{
    [Fact]
    public Task AStrictPolicy_IsNeverOverAdmitted_OnGarnet() => ClusterHostTests.StrictNeverOverAdmittedAsync(garnet.ConnectionString);
}
