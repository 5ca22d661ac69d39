using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>Shadow policies are single-node (docs/cluster.md "Limits of this version"): a cluster node refuses them, naming the field.</summary>
public sealed class ClusterShadowPolicyTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task AShadowPolicy_IsRefusedInClusterMode_OnCreateAndOnUpdate_AndNothingChanges()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 1);
        HostUnderTest node = rig.Nodes[0];
        await node.CreateUserAsync();
        var shadow = new { period_mode = "daily", quota = 100, mode = "shadow" };

        using HttpResponseMessage created = await node.Admin.PostAsJsonAsync("/api/tokens", new { user_id = 1, quota_policies = new[] { shadow } });
        await ShadowPolicyTests.AssertFieldAsync(created, "quota_policies[0].mode");

        (int id, _) = await node.CreateTokenAsync(ClusterHostTests.StrictDaily(100));
        using HttpResponseMessage updated = await node.Admin.PutAsJsonAsync($"/api/tokens/{id}", new { quota_policy = shadow });
        await ShadowPolicyTests.AssertFieldAsync(updated, "quota_policy.mode");
        JsonElement kept = (await node.GetJsonAsync($"/api/tokens/{id}")).GetProperty("quota_policies")[0];
        Assert.Equal(("enforce", "strict_pre_check"), (kept.GetProperty("mode").GetString(), kept.GetProperty("boundary_mode").GetString()));
    }
}
