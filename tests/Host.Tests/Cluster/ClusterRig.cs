using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>Hosts in cluster mode on one store (in this process, each with its own data directory), and quota API calls.</summary>
internal sealed class ClusterRig : IAsyncDisposable
{
    private readonly List<TempDirectory> dirs = [];
    private readonly string prefix = $"c{Guid.NewGuid():N}:";

    public List<HostUnderTest> Nodes { get; } = [];

    public static async Task<ClusterRig> StartAsync(string store, int nodes, params string[] extra)
    {
        var rig = new ClusterRig();
        for (int i = 0; i < nodes; i++)
        {
            await rig.AddNodeAsync(store, "node" + i, extra);
        }

        return rig;
    }

    public async Task<HostUnderTest> AddNodeAsync(string store, string nodeId, params string[] extra)
    {
        var dir = new TempDirectory();
        dirs.Add(dir);
        HostUnderTest node = await HostUnderTest.StartAsync(dir.Path, null, null,
            [$"--Cluster:Store={store}", $"--Cluster:NodeId={nodeId}", $"--Cluster:KeyPrefix={prefix}", .. extra]);
        Nodes.Add(node);
        return node;
    }

    public static async Task<(HttpStatusCode Status, string? Id)> ReserveAsync(HostUnderTest node, string key, long amount)
    {
        using HttpResponseMessage response = await node.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount });
        return response.StatusCode == HttpStatusCode.OK
            ? (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString())
            : (response.StatusCode, null);
    }

    public static async Task<HttpStatusCode> SettleAsync(HostUnderTest node, string id, long amount)
    {
        using HttpResponseMessage response = await node.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount });
        return response.StatusCode;
    }

    /// <summary>A key's numbers as the admin API shows them on <paramref name="node"/>: (used_quota, its first policy's used_quota).</summary>
    public static async Task<(long Used, long PolicyUsed)> UsageAsync(HostUnderTest node, int tokenId)
    {
        JsonElement token = await node.GetJsonAsync($"/api/tokens/{tokenId}");
        return (token.GetProperty("used_quota").GetInt64(), token.GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64());
    }

    /// <summary>Waits (bounded) until every node shows <paramref name="expected"/> as the policy's usage.</summary>
    public async Task WaitPolicyUsedAsync(int tokenId, long expected)
    {
        for (int attempt = 0; attempt < 300; attempt++)
        {
            bool all = true;
            foreach (HostUnderTest node in Nodes)
            {
                all &= (await UsageAsync(node, tokenId)).PolicyUsed == expected;
            }

            if (all)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Equal(expected, (await UsageAsync(Nodes[0], tokenId)).PolicyUsed);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (HostUnderTest node in Nodes)
        {
            await node.DisposeAsync();
        }

        foreach (TempDirectory dir in dirs)
        {
            dir.Dispose();
        }
    }
}
