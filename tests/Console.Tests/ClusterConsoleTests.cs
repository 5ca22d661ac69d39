using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// The console in cluster mode: two host processes on one real redis-server. Every page shows the numbers the admin API
/// shows, on every node — the cluster's, never the local engine's lifted ones (docs/cluster.md).
/// </summary>
public sealed partial class ClusterConsoleTests(RedisServer redis) : IClassFixture<RedisServer>
{
    private readonly string prefix = $"cc{Guid.NewGuid():N}:";

    private string[] Cluster(string nodeId) =>
        [$"--Cluster:Store={redis.ConnectionString}", $"--Cluster:NodeId={nodeId}", $"--Cluster:KeyPrefix={prefix}"];

    [Fact]
    public async Task UsersPages_AndMe_ShowTheApisNumbers_OnEveryNode()
    {
        using var firstDir = new TempDirectory();
        using var secondDir = new TempDirectory();
        using HostProcess first = await HostProcess.StartAsync(firstDir.Path, Cluster("first"));
        using HostProcess second = await HostProcess.StartAsync(secondDir.Path, Cluster("second"));
        using (HttpResponseMessage user = await first.Admin.PostAsJsonAsync("/api/users", new { name = "alice", quota = 5_000 }))
        {
            Assert.Equal(HttpStatusCode.Created, user.StatusCode);
        }

        string key;
        int tokenId;
        using (HttpResponseMessage created = await first.Admin.PostAsJsonAsync("/api/tokens", new
        {
            user_id = 1, name = "k", remain_quota = 1_000,
            quota_policy = new { period_mode = "daily", quota = 300, boundary_mode = "strict_pre_check" },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            JsonElement token = await created.Content.ReadFromJsonAsync<JsonElement>();
            (key, tokenId) = (token.GetProperty("key").GetString()!, token.GetProperty("id").GetInt32());
        }

        // Some usage, charged on the second node: the first learns it from the store.
        await WaitServedAsync(second, key);
        using (HttpResponseMessage reserve = await second.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 40 }))
        {
            string reservation = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
            using HttpResponseMessage settle = await second.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = reservation, amount = 25 });
            Assert.Equal(HttpStatusCode.OK, settle.StatusCode);
        }

        foreach (HostProcess node in new[] { first, second })
        {
            await WaitUserUsedAsync(node, 25); // reports are batched: the node has heard of the second node's charge
            using var console = new ConsoleClient(new Uri(node.BaseUrl));
            await console.SignInAsync();
            await AssertSameAsync(node, "/api/users/1", () => console.GetPageAsync("/users"), (user, page) =>
            {
                Assert.Equal(5_000 - 25, user.GetProperty("quota").GetInt64()); // the API's numbers are the cluster's
                Assert.Equal(N(user, "quota"), Field(page, "balance-1"));
                Assert.Equal(N(user, "used_quota"), Field(page, "used-1"));
                Assert.Equal(N(user, "reserved_quota"), Field(page, "reserved-1"));
            });
            await AssertSameAsync(node, "/api/users/1", () => console.GetPageAsync("/users/1"), (user, page) =>
            {
                Assert.Equal(N(user, "quota"), Field(page, "balance"));
                Assert.Equal(N(user, "used_quota"), Field(page, "used"));
                Assert.Equal(N(user, "reserved_quota"), Field(page, "reserved"));
            });

            using var holder = new ConsoleClient(new Uri(node.BaseUrl));
            using (HttpResponseMessage me = await holder.PostFormAsync("/me", "me", [new("Form.Key", key)]))
            {
                Assert.Equal(HttpStatusCode.Redirect, me.StatusCode);
            }

            await AssertSameAsync(node, $"/api/tokens/{tokenId}", () => holder.GetPageAsync("/me"), (token, page) =>
            {
                Assert.Equal(1_000 - 25, token.GetProperty("remain_quota").GetInt64());
                Assert.Equal(N(token, "remain_quota"), Field(page, "remain"));
                JsonElement policy = token.GetProperty("quota_policies")[0];
                long policyLeft = policy.GetProperty("quota").GetInt64() - policy.GetProperty("used_quota").GetInt64() - policy.GetProperty("reserved_quota").GetInt64();
                Assert.Contains(policyLeft.ToString("N0", CultureInfo.GetCultureInfo("en")), Field(page, "policy-remain-0"), StringComparison.Ordinal);
            });
        }
    }

    /// <summary>
    /// Checks a page against the API's answer read just before and just after it, once the two agree: leases come and go
    /// with traffic and idleness, and the comparison is of one moment, not of two.
    /// </summary>
    private static async Task AssertSameAsync(HostProcess node, string api, Func<Task<string>> page, Action<JsonElement, string> check)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            string before = await node.Admin.GetStringAsync(api);
            string html = await page();
            if (before == await node.Admin.GetStringAsync(api))
            {
                check(JsonDocument.Parse(before).RootElement, html);
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"{api} never held still for one page read");
    }

    /// <summary>A node serves a key once it has applied it from the store (401 until then).</summary>
    internal static async Task WaitServedAsync(HostProcess node, string key)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            using HttpResponseMessage quota = await node.Admin.GetAsync($"/api/tokens?size=1");
            JsonElement page = await quota.Content.ReadFromJsonAsync<JsonElement>();
            if (page.GetProperty("total").GetInt32() > 0)
            {
                return;
            }

            await Task.Delay(25);
        }

        Assert.Fail($"the node never applied the key {key[..6]}…");
    }

    /// <summary>Waits (bounded) until the node's API shows <paramref name="used"/> as the user's usage.</summary>
    private static async Task WaitUserUsedAsync(HostProcess node, long used)
    {
        for (int attempt = 0; attempt < 400; attempt++)
        {
            if ((await node.Admin.GetFromJsonAsync<JsonElement>("/api/users/1")).GetProperty("used_quota").GetInt64() == used)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"the node never showed {used} used");
    }

    private static string N(JsonElement json, string property) => json.GetProperty(property).GetInt64().ToString("N0", CultureInfo.GetCultureInfo("en"));

    /// <summary>The text of the element marked <c>data-field="<paramref name="name"/>"</c>.</summary>
    internal static string Field(string html, string name)
    {
        Match match = Regex.Match(html, $"data-field=\"{Regex.Escape(name)}\"[^>]*>([^<]*)<");
        Assert.True(match.Success, $"no data-field=\"{name}\" on the page");
        return WebUtility.HtmlDecode(match.Groups[1].Value).Trim();
    }
}
