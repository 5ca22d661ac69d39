using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Quota.Engine.Model;
using Quota.Host.Cluster;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>
/// A node joining a store that already holds thousands of keys gets all of them, reading the store in bulk; its key
/// listing reads a page's numbers from the store in one call.
/// </summary>
public sealed class ClusterJoinTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const int Keys = 3_000;
    private static readonly QuotaPolicySpec Daily = new() { QuotaUnits = 500, AnchorMs = 1_767_225_600_000 }; // daily windows from 2026-01-01 UTC

    [Fact]
    public async Task ANodeJoiningAStoreWithThousandsOfKeys_AppliesThemAll_InBatchedStoreCalls_AndListsAPageInOneCall()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 1);
        ClusterStore seeding = rig.Nodes[0].Services.GetRequiredService<ClusterNode>().Store;
        // The documents as the admin API saves them (one script per save, a budget account per key), written straight to the store.
        int userId = seeding.NextId("u");
        seeding.SaveDocument("u:" + userId, JsonSerializer.Serialize(new UserDocumentInStore(userId, "u", 1, null)), seeding.WalletAccount(userId), 1_000_000);
        var ids = new int[Keys];
        for (int i = 0; i < Keys; i++)
        {
            int id = ids[i] = seeding.NextId("t");
            var doc = new TokenDocumentInStore(id, userId, "k" + id, ApiKeys.Hash("sk-join-" + id), "sk-…" + id, 1, TokenStatus.Enabled, false, -1, [Daily], false);
            seeding.SaveDocument("t:" + id, JsonSerializer.Serialize(doc), seeding.BudgetAccount(id), 1_000);
        }

        HostUnderTest joined = await rig.AddNodeAsync(redis.ConnectionString, "joiner");
        ClusterNode joiner = joined.Services.GetRequiredService<ClusterNode>();
        long joinTrips = joiner.Store.RoundTrips; // the join: the configuration read, the sweep, the restart's lease check

        Assert.All(ids, id => Assert.Equal("k" + id, joiner.Config.Token(id)?.Name));
        Assert.Equal("k" + ids[^1], (await joined.GetJsonAsync($"/api/tokens/{ids[^1]}")).GetProperty("name").GetString());
        // One by one, the join cost a store round trip per key; in batches of ClusterStore.BatchSize it is a few dozen calls.
        Assert.True(joinTrips < 100, $"{joinTrips} store round trips to join a store with {Keys} keys");

        // A page of 100 keys: their budgets' and windows' numbers in one store call, not two per key.
        long beforeList = joiner.Store.RoundTrips;
        System.Text.Json.JsonElement page = await joined.GetJsonAsync("/api/tokens?p=1&size=100");
        long listTrips = joiner.Store.RoundTrips - beforeList;
        Assert.Equal(100, page.GetProperty("items").GetArrayLength());
        Assert.All(page.GetProperty("items").EnumerateArray(), item => Assert.Equal(1_000, item.GetProperty("remain_quota").GetInt64()));
        Assert.Equal(Keys, page.GetProperty("total").GetInt32());
        Assert.True(listTrips < 10, $"{listTrips} store round trips to list a page of 100 keys"); // the node's own loop may add a few
    }
}
