using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Quota;

/// <summary>Quota API request ids: scoped to the key, conflicting amounts refused, exactly one reservation under concurrency, kept across restarts.</summary>
public sealed class RequestIdTests : IDisposable
{
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ReserveAsync(HostUnderTest host, object body)
    {
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/quota/reserve", body);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
    }

    [Fact]
    public async Task ARequestId_IsScopedToItsKey_AndAnotherAmountIsAConflict()
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        int user = await host.CreateUserAsync();
        (int first, string firstKey) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 100_000 });
        (int second, string secondKey) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 100_000 });

        (_, JsonElement k1) = await ReserveAsync(host, new { key = firstKey, amount = 60, request_id = "r-1" });
        (HttpStatusCode status, JsonElement k2) = await ReserveAsync(host, new { key = secondKey, amount = 7000, request_id = "r-1" });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotEqual(k1.GetProperty("reservation_id").GetString(), k2.GetProperty("reservation_id").GetString());
        Assert.Equal(7000, (await host.GetJsonAsync($"/api/tokens/{second}")).GetProperty("reserved_quota").GetInt64());
        Assert.Equal(60, (await host.GetJsonAsync($"/api/tokens/{first}")).GetProperty("reserved_quota").GetInt64());

        (status, JsonElement conflict) = await ReserveAsync(host, new { key = firstKey, amount = 61, request_id = "r-1" });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("request_id_conflict", conflict.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("request_id", conflict.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(60, (await host.GetJsonAsync($"/api/tokens/{first}")).GetProperty("reserved_quota").GetInt64());
    }

    [Fact]
    public async Task TwelveConcurrentReservesWithOneId_MakeExactlyOneReservation_InEveryRound()
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1_000_000 });
        for (int round = 0; round < 20; round++)
        {
            string requestId = $"round-{round}";
            (HttpStatusCode Status, JsonElement Body)[] replies = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => ReserveAsync(host, new { key, amount = 10, request_id = requestId })));

            Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
            Assert.Single(replies.Select(r => r.Body.GetProperty("reservation_id").GetString()).Distinct());
            Assert.Equal((round + 1) * 10L, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64());
        }
    }

    [Fact]
    public async Task ARequestId_IsKeptAcrossARestart()
    {
        string key, id;
        int token;
        await using (HostUnderTest first = await HostUnderTest.StartAsync(data.Path, null))
        {
            (token, key) = await first.CreateTokenAsync(new { user_id = await first.CreateUserAsync(), remain_quota = 100_000 });
            id = (await ReserveAsync(first, new { key, amount = 60, request_id = "before-restart" })).Body.GetProperty("reservation_id").GetString()!;
        }

        await using HostUnderTest second = await HostUnderTest.StartAsync(data.Path, null);
        (HttpStatusCode status, JsonElement again) = await ReserveAsync(second, new { key, amount = 60, request_id = "before-restart" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, again.GetProperty("reservation_id").GetString());
        Assert.Equal(60, (await second.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64());
        Assert.Equal(HttpStatusCode.Conflict, (await ReserveAsync(second, new { key, amount = 1, request_id = "before-restart" })).Status);
    }

    [Theory]
    [InlineData("request_id")]
    [InlineData("key")]
    public async Task AnOverlongStringField_Is400NamingIt(string field)
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 100_000 });
        string huge = new('x', 100_000);

        (HttpStatusCode status, JsonElement body) = field == "key"
            ? await ReserveAsync(host, new { key = huge, amount = 1 })
            : await ReserveAsync(host, new { key, amount = 1, request_id = huge });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(field, body.GetProperty("error").GetProperty("param").GetString());
    }
}
