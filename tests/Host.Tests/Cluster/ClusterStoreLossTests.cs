using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;
using StackExchange.Redis;

namespace Quota.Host.Tests.Cluster;

/// <summary>
/// The store loses its data under traffic — a FLUSHALL, or a redis-server restarted without persistence — while three host
/// processes serve a key whose strict daily window is used up and a key still being spent: no node re-opens the window,
/// every node stops admitting (503) once it finds the store's epoch gone, and a reseed rebuilds the store from the nodes
/// (documents, wallets, usage) so that every number is what it was (docs/cluster.md "Store data loss").
/// </summary>
public sealed class ClusterStoreLossTests
{
    private const long ExhaustedQuota = 300;

    [Fact]
    public Task AFlushAllUnderTraffic_ReopensNoWindow_AndAReseedRebuildsTheStoreFromTheNodes() =>
        StoreLossAsync(async redis =>
        {
            await using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},allowAdmin=true");
            await admin.GetServers()[0].FlushAllDatabasesAsync();
            return redis;
        });

    [Fact]
    public Task AStoreRestartedWithoutPersistence_UnderTraffic_ReopensNoWindow_AndAReseedRebuildsIt() =>
        StoreLossAsync(async redis =>
        {
            int port = redis.Port;
            redis.Dispose();
            await Task.Delay(500); // the nodes see the store go away (and serve from their leases meanwhile)
            return RedisServer.OnPort(port); // back, empty, where the nodes look for it
        });

    private static async Task StoreLossAsync(Func<RedisServer, Task<RedisServer>> loseTheData)
    {
        RedisServer redis = new();
        string[] cluster = [$"--Cluster:Store={redis.ConnectionString}", "--Cluster:KeyPrefix=loss:"];
        var dirs = new[] { new TempDirectory(), new TempDirectory(), new TempDirectory() };
        var nodes = new HostProcess[3];
        using var stop = new CancellationTokenSource();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                nodes[i] = await HostProcess.StartAsync(dirs[i].Path, [.. cluster, $"--Cluster:NodeId=n{i}"]);
            }

            HttpClient first = nodes[0].Admin;
            using (HttpResponseMessage user = await first.PostAsJsonAsync("/api/users", new { name = "u", quota = 1_000_000 }))
            {
                Assert.Equal(HttpStatusCode.Created, user.StatusCode);
            }

            (int exhaustedId, string exhausted) = await CreateKeyAsync(first, ExhaustedQuota);
            long charged = 0;
            (int spentId, string spent) = await CreateKeyAsync(first, 1_000_000);
            await WaitAsync(async () => (await Task.WhenAll(nodes.Select(n => StatusAsync(n.Admin, "/api/tokens/" + spentId)))).All(s => s == HttpStatusCode.OK), "every node has both keys");

            // The strict window used up, through every node.
            for (int round = 0; round < 200; round++)
            {
                (HttpStatusCode status, string? id) = await ReserveAsync(nodes[round % 3].Admin, exhausted, 7, $"fill{round}");
                if (status == HttpStatusCode.OK)
                {
                    Assert.Equal(HttpStatusCode.OK, await SettleAsync(nodes[round % 3].Admin, id!, 5));
                    charged += 5;
                }
            }

            Assert.InRange(charged, ExhaustedQuota - 3 * 7 * 5, ExhaustedQuota);
            for (int attempt = 0; charged < ExhaustedQuota; attempt++) // the rest, once the other nodes gave their idle leases back
            {
                if (attempt == 300)
                {
                    JsonElement window = (await first.GetFromJsonAsync<JsonElement>($"/api/tokens/{exhaustedId}")).GetProperty("quota_policies")[0];
                    await using ConnectionMultiplexer look = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
                    string accounts = string.Join("; ", await Task.WhenAll(look.GetServers()[0].Keys(pattern: $"loss:a:p:{exhaustedId}:*")
                        .Select(async k => k.ToString() + " " + string.Join(",", (await look.GetDatabase().HashGetAllAsync(k)).Select(e => $"{e.Name}={e.Value}")))));
                    Assert.Fail($"the last {ExhaustedQuota - charged} units of the window were never granted: {window}; store: {accounts}");
                }

                await Task.Delay(100);
                (HttpStatusCode status, string? id) = await ReserveAsync(first, exhausted, ExhaustedQuota - charged, $"rest{attempt}");
                if (status == HttpStatusCode.OK)
                {
                    Assert.Equal(HttpStatusCode.OK, await SettleAsync(first, id!, ExhaustedQuota - charged));
                    charged = ExhaustedQuota; // used up: every request is refused from now on
                }
            }

            // Traffic on both keys from every node, across the loss and the rebuild.
            long spentAcknowledged = 0;
            var exhaustedAdmitted = new ConcurrentBag<string>();
            var spentAnswers = new ConcurrentBag<(long StartedTicks, HttpStatusCode Status)>();
            Task[] traffic = [.. Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
            {
                HttpClient client = nodes[worker % 3].Admin;
                for (int i = 0; !stop.IsCancellationRequested; i++)
                {
                    (HttpStatusCode refused, string? reopened) = await ReserveAsync(client, exhausted, 7, $"x{worker}-{i}");
                    if (refused == HttpStatusCode.OK)
                    {
                        exhaustedAdmitted.Add($"node n{worker % 3}: {reopened}");
                    }

                    long started = Stopwatch.GetTimestamp();
                    (HttpStatusCode status, string? id) = await ReserveAsync(client, spent, 7, $"s{worker}-{i}");
                    spentAnswers.Add((started, status));
                    if (status == HttpStatusCode.OK)
                    {
                        Assert.Equal(HttpStatusCode.OK, await SettleAsync(client, id!, 5)); // a settle never needs the store
                        Interlocked.Add(ref spentAcknowledged, 5);
                    }

                    await Task.Delay(5);
                }
            }))];

            await WaitAsync(() => Task.FromResult(Interlocked.Read(ref spentAcknowledged) >= 100), "traffic on the spent key");
            redis = await loseTheData(redis);
            await Task.Delay(2_000); // traffic against the emptied store
            Assert.Empty(exhaustedAdmitted); // the used-up window was not re-opened, on any node

            // Every node finds the store's epoch gone, and from then on admits nothing and reads nothing from it.
            await WaitAsync(async () => (await Task.WhenAll(nodes.Select(n => StateAsync(n.Admin)))).All(s => s == "lost"), "every node lost the store");
            long allLost = Stopwatch.GetTimestamp();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await StatusAsync(nodes[1].Admin, "/api/tokens/" + spentId));
            using (HttpResponseMessage write = await nodes[2].Admin.PostAsJsonAsync("/api/users", new { name = "later", quota = 5 }))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, write.StatusCode); // no id handed out again from an empty store
            }

            await Task.Delay(1_000); // traffic against the lost store
            long reseeded = Stopwatch.GetTimestamp();
            Assert.DoesNotContain(spentAnswers, a => a.StartedTicks > allLost && a.StartedTicks < reseeded && a.Status == HttpStatusCode.OK);
            using (HttpResponseMessage empty = await first.PostAsJsonAsync("/api/cluster/reseed", new { nodes = Array.Empty<string>() }))
            {
                Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
                Assert.Contains("nodes", await empty.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            using (HttpResponseMessage reseed = await nodes[1].Admin.PostAsync("/api/cluster/reseed", null)) // waits for the members it saw: n0, n1, n2
            {
                Assert.Equal(HttpStatusCode.Accepted, reseed.StatusCode);
            }

            await WaitAsync(async () => (await Task.WhenAll(nodes.Select(n => StateAsync(n.Admin)))).All(s => s == "serving"), "every node serves again");
            await WaitAsync(async () => spentAnswers.Any(a => a.StartedTicks > allLost && a.Status == HttpStatusCode.OK) || stop.IsCancellationRequested,
                "the spent key is admitted again");
            await stop.CancelAsync();
            await Task.WhenAll(traffic);

            Assert.Empty(exhaustedAdmitted); // nor during the rebuild, nor after it
            Assert.DoesNotContain(spentAnswers, a => a.Status is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable));
            foreach (HostProcess node in nodes)
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, (await ReserveAsync(node.Admin, exhausted, 1, "after-" + node.BaseUrl)).Status);
            }

            // The rebuilt store has what it had: usage (every acknowledged charge, once), wallets, ids.
            long spentTotal = Interlocked.Read(ref spentAcknowledged);
            await WaitAsync(async () => await PolicyUsedAsync(first, spentId) == spentTotal, $"the spent key's usage {spentTotal}");
            Assert.Equal(ExhaustedQuota, await PolicyUsedAsync(nodes[2].Admin, exhaustedId));
            JsonElement wallet = await first.GetFromJsonAsync<JsonElement>("/api/users/1");
            Assert.Equal(1_000_000 - charged - spentTotal, wallet.GetProperty("quota").GetInt64());
            (int nextId, _) = await CreateKeyAsync(nodes[2].Admin, 10);
            Assert.Equal(3, nextId);

            using HttpResponseMessage again = await first.PostAsync("/api/cluster/reseed", null);
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode); // a store that has its data is not rebuilt
        }
        finally
        {
            await stop.CancelAsync();
            foreach (HostProcess? node in nodes)
            {
                node?.Dispose();
            }

            redis.Dispose();
            foreach (TempDirectory dir in dirs)
            {
                dir.Dispose();
            }
        }
    }

    private static async Task<(int Id, string Key)> CreateKeyAsync(HttpClient admin, long quota)
    {
        using HttpResponseMessage created = await admin.PostAsJsonAsync("/api/tokens", new
        {
            user_id = 1, name = "k", unlimited_quota = true,
            quota_policy = new { period_mode = "daily", quota, boundary_mode = "strict_pre_check" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        JsonElement token = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (token.GetProperty("id").GetInt32(), token.GetProperty("key").GetString()!);
    }

    private static async Task<(HttpStatusCode Status, string? Id)> ReserveAsync(HttpClient client, string key, long amount, string requestId)
    {
        using HttpResponseMessage response = await client.PostAsJsonAsync("/api/quota/reserve", new { key, amount, request_id = requestId });
        return response.StatusCode == HttpStatusCode.OK
            ? (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString())
            : (response.StatusCode, null);
    }

    private static async Task<HttpStatusCode> SettleAsync(HttpClient client, string id, long amount)
    {
        using HttpResponseMessage response = await client.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount });
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.GetAsync(path);
        return response.StatusCode;
    }

    /// <summary>The node's <c>state</c> (serving, lost, rebuilding), or "" while the store does not answer at all.</summary>
    private static async Task<string> StateAsync(HttpClient client)
    {
        using HttpResponseMessage response = await client.GetAsync("/api/cluster");
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString()! : "";
    }

    private static async Task<long> PolicyUsedAsync(HttpClient client, int tokenId) =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/tokens/{tokenId}")).GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64();

    /// <summary>Waits (bounded: 30 s) for <paramref name="condition"/>.</summary>
    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        for (int attempt = 0; attempt < 300; attempt++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException($"timed out waiting for: {what}");
    }
}
