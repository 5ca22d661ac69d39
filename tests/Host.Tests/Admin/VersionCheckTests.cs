using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Admin;

/// <summary>
/// Admin saves are checked against the version they were made on (docs/api.md "Versions"): a read answers with an ETag, a
/// PUT that sends it back as If-Match is refused with 409 version_conflict when the document changed since, and nothing is
/// written. One host here; <see cref="Cluster.ClusterVersionTests"/> checks the same across nodes.
/// </summary>
public sealed class VersionCheckTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, null, null, "--Pricing:Groups:gold:MultiplierPerMille=1500");

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    internal static object Key(int user) => new
    {
        user_id = user, name = "before", remain_quota = 5_000,
        quota_policy = new { period_mode = "daily", quota = 100 },
    };

    [Fact]
    public async Task TwoConcurrentEdits_OfTheSameVersion_OneIsSaved_TheOtherGets409_AndWritesNothing()
    {
        int user = await host.CreateUserAsync();
        (int id, _) = await host.CreateTokenAsync(Key(user));
        string etag = await ETagAsync(host.Admin, $"/api/tokens/{id}");

        HttpResponseMessage[] answers = await Task.WhenAll(
            PutAsync(host.Admin, $"/api/tokens/{id}", new { name = "first", status = 2 }, etag),
            PutAsync(host.Admin, $"/api/tokens/{id}", new { name = "second", quota_policy = new { period_mode = "weekly", quota = 7 } }, etag));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], answers.Select(a => a.StatusCode).Order());
        HttpResponseMessage saved = answers.Single(a => a.StatusCode == HttpStatusCode.OK);
        HttpResponseMessage refused = answers.Single(a => a.StatusCode == HttpStatusCode.Conflict);
        JsonElement problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("version_conflict", problem.GetProperty("title").GetString());
        Assert.Equal("If-Match", problem.GetProperty("field").GetString());
        Assert.Equal(saved.Headers.ETag!.Tag, problem.GetProperty("etag").GetString()); // the version to read again
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);

        // Only the winner's change is there: none of the refused save's fields was written.
        JsonElement token = await host.GetJsonAsync($"/api/tokens/{id}");
        string winner = (await saved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString()!;
        Assert.Equal(winner, token.GetProperty("name").GetString());
        Assert.Equal(winner == "first" ? 2 : 1, token.GetProperty("status").GetInt32());
        Assert.Equal(winner == "first" ? "daily" : "weekly", token.GetProperty("quota_policy").GetProperty("period_mode").GetString());
        foreach (HttpResponseMessage answer in answers)
        {
            answer.Dispose();
        }
    }

    [Fact]
    public async Task AStaleSave_Gets409_AFreshOneIsSaved_AndUsageDoesNotMakeAVersionStale()
    {
        int user = await host.CreateUserAsync();
        (int id, string key) = await host.CreateTokenAsync(Key(user));
        string first = await ETagAsync(host.Admin, $"/api/tokens/{id}");
        using (HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 30 }))
        {
            string reservation = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
            using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = reservation, amount = 30 });
            Assert.Equal(HttpStatusCode.OK, settle.StatusCode);
        }

        Assert.Equal(first, await ETagAsync(host.Admin, $"/api/tokens/{id}")); // counters are not configuration

        using HttpResponseMessage renamed = await PutAsync(host.Admin, $"/api/tokens/{id}", new { name = "renamed" }, first);
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        string second = renamed.Headers.ETag!.Tag;
        Assert.NotEqual(first, second);
        Assert.Equal(second, await ETagAsync(host.Admin, $"/api/tokens/{id}"));

        using HttpResponseMessage stale = await PutAsync(host.Admin, $"/api/tokens/{id}", new { name = "stale", remain_quota = 1 }, first);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        JsonElement token = await host.GetJsonAsync($"/api/tokens/{id}");
        Assert.Equal("renamed", token.GetProperty("name").GetString());
        Assert.Equal(5_000 - 30, token.GetProperty("remain_quota").GetInt64());

        using HttpResponseMessage any = await PutAsync(host.Admin, $"/api/tokens/{id}", new { name = "any" }, "*"); // If-Match: * is any version
        Assert.Equal(HttpStatusCode.OK, any.StatusCode);
        using HttpResponseMessage unversioned = await host.Admin.PutAsJsonAsync($"/api/tokens/{id}", new { name = "unchecked" }); // no If-Match: not checked
        Assert.Equal(HttpStatusCode.OK, unversioned.StatusCode);
    }

    [Theory]
    [InlineData("3f2a0c11aa00bb22")] // no quotes
    [InlineData("\"a\", \"b\"")] // a list
    public async Task AnIfMatchThatIsNotOneEntityTag_Is400NamingIt_AndWritesNothing(string ifMatch)
    {
        int user = await host.CreateUserAsync();
        (int id, _) = await host.CreateTokenAsync(Key(user));
        foreach (string path in new[] { $"/api/tokens/{id}", $"/api/users/{user}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = JsonContent.Create(new { name = "changed" }) };
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            using HttpResponseMessage response = await host.Admin.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("If-Match", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
            Assert.NotEqual("changed", (await host.GetJsonAsync(path)).GetProperty("name").GetString());
        }
    }

    [Fact]
    public async Task AUsersStaleRegroup_Gets409_AndKeepsTheSavedGroup_AWalletTopUpDoesNotMakeItStale()
    {
        int user = await host.CreateUserAsync();
        string first = await ETagAsync(host.Admin, $"/api/users/{user}");
        using (HttpResponseMessage topUp = await host.Admin.PostAsJsonAsync($"/api/users/{user}/quota", new { delta = 10 }))
        {
            Assert.Equal(first, topUp.Headers.ETag!.Tag);
        }

        using HttpResponseMessage gold = await PutAsync(host.Admin, $"/api/users/{user}", new { group = "gold" }, first);
        Assert.Equal(HttpStatusCode.OK, gold.StatusCode);
        using HttpResponseMessage stale = await PutAsync(host.Admin, $"/api/users/{user}", new { name = "bob", group = "default" }, first);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal("version_conflict", (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        JsonElement saved = await host.GetJsonAsync($"/api/users/{user}");
        Assert.Equal(("alice", "gold"), (saved.GetProperty("name").GetString(), saved.GetProperty("group").GetString()));
    }

    internal static async Task<string> ETagAsync(HttpClient admin, string path)
    {
        using HttpResponseMessage response = await admin.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        EntityTagHeaderValue tag = response.Headers.ETag ?? throw new Xunit.Sdk.XunitException($"GET {path} has no ETag");
        Assert.False(tag.IsWeak);
        return tag.Tag;
    }

    internal static Task<HttpResponseMessage> PutAsync(HttpClient admin, string path, object body, string ifMatch)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return admin.SendAsync(request);
    }
}
