using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Admin;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>
/// Version-checked admin saves across nodes on a real redis-server (docs/api.md "Versions"): every node shows a document
/// with the same version, and of two saves made on two nodes against the same version only one is written — the store
/// checks the configuration version the saving node checked against, in the same script that writes.
/// </summary>
public sealed class ClusterVersionTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task TwoConcurrentEdits_OnTwoNodes_OneIsSaved_TheOtherGets409_AndEveryNodeShowsTheWinner()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        (HostUnderTest first, HostUnderTest second) = (rig.Nodes[0], rig.Nodes[1]);
        int user = await first.CreateUserAsync();
        (int id, _) = await first.CreateTokenAsync(VersionCheckTests.Key(user));
        string etag = await VersionCheckTests.ETagAsync(first.Admin, $"/api/tokens/{id}");
        await WaitAsync(async () => (await second.Admin.GetAsync($"/api/tokens/{id}")).StatusCode == HttpStatusCode.OK);
        Assert.Equal(etag, await VersionCheckTests.ETagAsync(second.Admin, $"/api/tokens/{id}")); // one version on every node

        HttpResponseMessage[] answers = await Task.WhenAll(
            VersionCheckTests.PutAsync(first.Admin, $"/api/tokens/{id}", new { name = "on-first", status = 2 }, etag),
            VersionCheckTests.PutAsync(second.Admin, $"/api/tokens/{id}", new { name = "on-second", quota_policy = new { period_mode = "weekly", quota = 7 } }, etag));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], answers.Select(a => a.StatusCode).Order());
        string winner = (await answers.Single(a => a.StatusCode == HttpStatusCode.OK).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString()!;
        Assert.Equal("version_conflict", (await answers.Single(a => a.StatusCode == HttpStatusCode.Conflict).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        foreach (HttpResponseMessage answer in answers)
        {
            answer.Dispose();
        }

        foreach (HostUnderTest node in rig.Nodes)
        {
            await WaitAsync(async () => (await node.GetJsonAsync($"/api/tokens/{id}")).GetProperty("name").GetString() == winner);
            JsonElement token = await node.GetJsonAsync($"/api/tokens/{id}");
            Assert.Equal(winner == "on-first" ? 2 : 1, token.GetProperty("status").GetInt32()); // nothing of the refused save
            Assert.Equal(winner == "on-first" ? "daily" : "weekly", token.GetProperty("quota_policy").GetProperty("period_mode").GetString());
        }
    }

    [Fact]
    public async Task ASaveOnANodeThatHasNotSeenTheLatestVersion_IsStillChecked_AUsersRenameToo()
    {
        await using ClusterRig rig = await ClusterRig.StartAsync(redis.ConnectionString, 2);
        (HostUnderTest first, HostUnderTest second) = (rig.Nodes[0], rig.Nodes[1]);
        int user = await first.CreateUserAsync();
        (int id, _) = await first.CreateTokenAsync(VersionCheckTests.Key(user));
        await WaitAsync(async () => (await second.Admin.GetAsync($"/api/tokens/{id}")).StatusCode == HttpStatusCode.OK);
        string tokenTag = await VersionCheckTests.ETagAsync(second.Admin, $"/api/tokens/{id}");
        string userTag = await VersionCheckTests.ETagAsync(second.Admin, $"/api/users/{user}");

        // Saved on the first node; the second is asked right away, before its poll or the events channel may have told it.
        using (HttpResponseMessage saved = await VersionCheckTests.PutAsync(first.Admin, $"/api/tokens/{id}", new { name = "fresh" }, tokenTag))
        {
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        }

        using (HttpResponseMessage renamed = await VersionCheckTests.PutAsync(first.Admin, $"/api/users/{user}", new { name = "carol" }, userTag))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        }

        using HttpResponseMessage staleKey = await VersionCheckTests.PutAsync(second.Admin, $"/api/tokens/{id}", new { name = "stale" }, tokenTag);
        Assert.Equal(HttpStatusCode.Conflict, staleKey.StatusCode);
        using HttpResponseMessage staleUser = await VersionCheckTests.PutAsync(second.Admin, $"/api/users/{user}", new { name = "stale" }, userTag);
        Assert.Equal(HttpStatusCode.Conflict, staleUser.StatusCode);
        Assert.Equal("fresh", (await second.GetJsonAsync($"/api/tokens/{id}")).GetProperty("name").GetString());
        Assert.Equal("carol", (await second.GetJsonAsync($"/api/users/{user}")).GetProperty("name").GetString());
    }

    private static async Task WaitAsync(Func<Task<bool>> condition)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(25);
        }

        Assert.True(await condition(), "the nodes did not agree in time");
    }
}
