using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Security;

/// <summary>
/// Gateway keys (docs/api.md "Gateway keys"): made by the admin, shown once, stored hashed, good on /api/quota/* only;
/// a reservation is finished only by the key that made it, or by the admin key.
/// </summary>
public sealed class GatewayKeyTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task AGatewayKey_IsShownOnce_StoredHashed_AndListedWithoutItsSecret()
    {
        (int id, string key) = await CreateAsync("edge-eu");
        Assert.StartsWith("sk-gw-", key, StringComparison.Ordinal);

        JsonElement list = await host.GetJsonAsync("/api/gateway_keys");
        Assert.Equal(1, list.GetProperty("total").GetInt32());
        JsonElement listed = list.GetProperty("items")[0];
        Assert.Equal(id, listed.GetProperty("id").GetInt32());
        Assert.Equal("edge-eu", listed.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("key").ValueKind);
        Assert.DoesNotContain(key, list.ToString(), StringComparison.Ordinal);
        Assert.Equal(key[..7], listed.GetProperty("key_preview").GetString()![..7]);

        var runtime = host.Services.GetRequiredService<QuotaRuntime>();
        global::Quota.Engine.Persistence.GatewayKeyDocument stored = Assert.Single(runtime.Store.AllGatewayKeys());
        Assert.Equal(ApiKeys.Hash(key), stored.KeyHash); // SHA-256, hex: the key itself is not in the store
    }

    [Fact]
    public async Task AGatewayKey_WorksOnTheQuotaApi_AndNowhereElse()
    {
        (_, string key) = await CreateAsync("edge");
        int tokenId = await TokenAsync();
        using HttpClient gateway = Client(key);

        using (HttpResponseMessage reserve = await gateway.PostAsJsonAsync("/api/quota/reserve", new { token_id = tokenId, amount = 10 }))
        {
            Assert.Equal(HttpStatusCode.OK, reserve.StatusCode);
        }

        foreach (string path in new[] { "/api/users/1", "/api/tokens", "/api/logs", "/api/gateway_keys" })
        {
            using HttpResponseMessage refused = await gateway.GetAsync(path);
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {(int)refused.StatusCode}");
        }

        using HttpResponseMessage create = await gateway.PostAsJsonAsync("/api/gateway_keys", new { name = "escalate" });
        Assert.Equal(HttpStatusCode.Unauthorized, create.StatusCode);
    }

    [Fact]
    public async Task AReservation_IsFinishedOnlyByTheKeyThatMadeIt_OrByTheAdminKey()
    {
        (_, string keyA) = await CreateAsync("a");
        (_, string keyB) = await CreateAsync("b");
        int tokenId = await TokenAsync();
        using HttpClient a = Client(keyA);
        using HttpClient b = Client(keyB);

        string byA = await ReserveAsync(a, tokenId);
        Assert.Equal(HttpStatusCode.NotFound, await FinishAsync(b, "settle", byA)); // as if it did not exist
        Assert.Equal(HttpStatusCode.NotFound, await FinishAsync(b, "refund", byA));
        Assert.Equal(HttpStatusCode.OK, await FinishAsync(a, "settle", byA));

        string byAdmin = await ReserveAsync(host.Admin, tokenId);
        Assert.Equal(HttpStatusCode.NotFound, await FinishAsync(a, "refund", byAdmin)); // a gateway cannot finish the admin's
        Assert.Equal(HttpStatusCode.OK, await FinishAsync(host.Admin, "refund", byAdmin));

        string another = await ReserveAsync(a, tokenId);
        Assert.Equal(HttpStatusCode.OK, await FinishAsync(host.Admin, "refund", another)); // the admin key finishes anything
    }

    [Fact]
    public async Task ADeletedGatewayKey_StopsWorkingAtOnce_EvenOnItsOpenConnection()
    {
        (int id, string key) = await CreateAsync("doomed");
        int tokenId = await TokenAsync();
        using HttpClient gateway = Client(key);
        await ReserveAsync(gateway, tokenId); // the connection's header string is now remembered as passed

        using (HttpResponseMessage deleted = await host.Admin.DeleteAsync($"/api/gateway_keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (HttpResponseMessage refused = await gateway.PostAsJsonAsync("/api/quota/reserve", new { token_id = tokenId, amount = 10 }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using HttpResponseMessage again = await host.Admin.DeleteAsync($"/api/gateway_keys/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal(0, (await host.GetJsonAsync("/api/gateway_keys")).GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("{}", "name")]
    [InlineData("{\"name\":\"  \"}", "name")]
    [InlineData("{\"name\":\"edge\\u0000\"}", "name")]
    [InlineData("{\"name\":\"\\u202Eue-egde\"}", "name")]
    [InlineData("{\"name\":7}", "name")]
    public async Task ABadCreateBody_Is400NamingTheField_AndCreatesNothing(string body, string field)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await host.Admin.PostAsync("/api/gateway_keys", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, (await host.GetJsonAsync("/api/gateway_keys")).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task ANameLongerThanTheLimit_Is400()
    {
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/gateway_keys", new { name = new string('g', 257) });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("at most 256", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayKeys_SurviveARestart()
    {
        (_, string key) = await CreateAsync("durable");
        int tokenId = await TokenAsync();
        await host.DisposeAsync();
        host = await HostUnderTest.StartAsync(data.Path, null);
        using HttpClient gateway = Client(key);
        await ReserveAsync(gateway, tokenId);
    }

    private async Task<(int Id, string Key)> CreateAsync(string name)
    {
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/gateway_keys", new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        JsonElement created = await response.Content.ReadFromJsonAsync<JsonElement>();
        int id = created.GetProperty("id").GetInt32();
        Assert.Equal($"/api/gateway_keys/{id}", response.Headers.Location!.OriginalString);
        return (id, created.GetProperty("key").GetString()!);
    }

    private async Task<int> TokenAsync()
    {
        int user = await host.CreateUserAsync();
        return (await host.CreateTokenAsync(new { user_id = user, name = "k", unlimited_quota = true })).Id;
    }

    private HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = host.Client.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static async Task<string> ReserveAsync(HttpClient client, int tokenId)
    {
        using HttpResponseMessage response = await client.PostAsJsonAsync("/api/quota/reserve", new { token_id = tokenId, amount = 10 });
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("reservation_id").GetString()!;
    }

    private static async Task<HttpStatusCode> FinishAsync(HttpClient client, string verb, string reservationId)
    {
        object body = verb == "settle" ? new { reservation_id = reservationId, amount = 5 } : new { reservation_id = reservationId };
        using HttpResponseMessage response = await client.PostAsJsonAsync($"/api/quota/{verb}", body);
        return response.StatusCode;
    }
}
