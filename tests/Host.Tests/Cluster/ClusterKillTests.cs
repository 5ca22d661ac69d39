using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>
/// Three host processes on one redis-server, a strict daily policy, concurrent traffic on every node, and one node killed
/// with SIGKILL mid-way and restarted: afterwards the store's usage equals the sum of the acknowledged charges exactly
/// (Durable mode), never above the quota (docs/cluster.md "Guarantees").
/// </summary>
public sealed class ClusterKillTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private const long Quota = 2_000;

    [Fact]
    public async Task ANodeKilledMidway_RecoversAndReports_SoUsageEqualsTheAcknowledgedCharges()
    {
        string[] cluster = [$"--Cluster:Store={redis.ConnectionString}", $"--Cluster:KeyPrefix=kill{Guid.NewGuid():N}:", "--Quota:Durability=Durable"];
        var dirs = new[] { new TempDirectory(), new TempDirectory(), new TempDirectory() };
        var nodes = new HostProcess?[3];
        try
        {
            for (int i = 0; i < 3; i++)
            {
                nodes[i] = await HostProcess.StartAsync(dirs[i].Path, [.. cluster, $"--Cluster:NodeId=n{i}"]);
            }

            HttpClient first = nodes[0]!.Admin;
            using HttpResponseMessage user = await first.PostAsJsonAsync("/api/users", new { name = "u", quota = 1_000_000 });
            Assert.Equal(HttpStatusCode.Created, user.StatusCode);
            using HttpResponseMessage created = await first.PostAsJsonAsync("/api/tokens", new
            {
                user_id = 1, name = "k", remain_quota = 1_000_000,
                quota_policy = new { period_mode = "daily", quota = Quota, boundary_mode = "strict_pre_check" },
            });
            JsonElement token = await created.Content.ReadFromJsonAsync<JsonElement>();
            string key = token.GetProperty("key").GetString()!;
            int tokenId = token.GetProperty("id").GetInt32();

            long acknowledged = 0, operations = 0;
            var restarted = new TaskCompletionSource();
            Task killer = Task.Run(async () =>
            {
                for (int waited = 0; Interlocked.Read(ref operations) < 120 && waited < 6_000; waited++) // mid-traffic, bounded
                {
                    await Task.Delay(10);
                }

                int port = new Uri(nodes[2]!.BaseUrl).Port;
                await nodes[2]!.KillAsync();
                nodes[2]!.Dispose();
                nodes[2] = await HostProcess.StartAsync(dirs[2].Path, [.. cluster, "--Cluster:NodeId=n2"], port);
                restarted.SetResult();
            });

            await Task.WhenAll(Enumerable.Range(0, 9).Select(worker => Task.Run(async () =>
            {
                for (int i = 0; i < 50; i++)
                {
                    string requestId = $"w{worker}-{i}";
                    int node = worker % 3;
                    string? reservation = await UntilAnsweredAsync(nodes, node, restarted, async client =>
                    {
                        using HttpResponseMessage r = await client.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 7, request_id = requestId });
                        return r.StatusCode == HttpStatusCode.OK ? (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString() : "";
                    });
                    Interlocked.Increment(ref operations);
                    if (reservation is not { Length: > 0 })
                    {
                        continue; // refused: nothing held
                    }

                    string? settled = await UntilAnsweredAsync(nodes, node, restarted, async client =>
                    {
                        using HttpResponseMessage s = await client.PostAsJsonAsync("/api/quota/settle", new { reservation_id = reservation, amount = 5 });
                        return s.StatusCode == HttpStatusCode.OK ? "ok" : s.StatusCode.ToString();
                    });
                    Assert.Equal("ok", settled);
                    Interlocked.Add(ref acknowledged, 5);
                }
            })));
            await killer;

            long used = -1;
            for (int attempt = 0; attempt < 200; attempt++) // reports reach the store within a report interval, the sweep within a poll
            {
                JsonElement view = await nodes[0]!.Admin.GetFromJsonAsync<JsonElement>($"/api/tokens/{tokenId}");
                used = view.GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64();
                if (used == acknowledged)
                {
                    break;
                }

                await Task.Delay(50);
            }

            Assert.Equal(acknowledged, used);
            Assert.True(used <= Quota, $"used {used} > quota {Quota}");
            Assert.True(acknowledged > 0);

            // Idle nodes give their leases back, and the killed node gives back what its recovered reservations held and did
            // not charge once they have all ended: nothing stays leased (the kill comes long before the quota runs out, so no
            // refusal's refund can have been lost with the process and left a reservation open).
            long leased = -1;
            for (int attempt = 0; attempt < 200; attempt++)
            {
                JsonElement view = await nodes[0]!.Admin.GetFromJsonAsync<JsonElement>($"/api/tokens/{tokenId}");
                leased = view.GetProperty("quota_policies")[0].GetProperty("reserved_quota").GetInt64();
                if (leased == 0)
                {
                    break;
                }

                await Task.Delay(100);
            }

            Assert.True(leased == 0, $"{leased} still leased after every node went idle");
        }
        finally
        {
            foreach (HostProcess? node in nodes)
            {
                node?.Dispose();
            }

            foreach (TempDirectory dir in dirs)
            {
                dir.Dispose();
            }
        }
    }

    /// <summary>Calls a node until it answers; a node that is down (killed) is waited for until it has restarted.</summary>
    private static async Task<string?> UntilAnsweredAsync(HostProcess?[] nodes, int node, TaskCompletionSource restarted, Func<HttpClient, Task<string?>> call)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await call(nodes[node]!.Admin);
            }
            catch (Exception exception) when (exception is HttpRequestException or ObjectDisposedException or TaskCanceledException && attempt < 100)
            {
                await restarted.Task.WaitAsync(TimeSpan.FromSeconds(90));
            }
        }
    }
}
