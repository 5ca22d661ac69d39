using System.Net;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// A hostile gateway against the quota API over real Kestrel: malformed and ambiguous bodies get a 4xx naming the
/// field (never a 500), request ids cannot be replayed across keys or amounts, races on one id have one winner, and
/// nothing stays held afterwards.
/// </summary>
public sealed class HostileClientTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = null!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    private async Task<(HttpStatusCode Status, string Text)> PostAsync(string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using HttpResponseMessage response = await host.Admin.PostAsync(path, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task<(HttpStatusCode Status, string Text)> PostAsync(string path, string json) => PostAsync(path, Encoding.UTF8.GetBytes(json));

    private async Task<long> ReservedAsync(int token) =>
        (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64();

    private static string Param(string text) => JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("param").GetString()!;

    [Theory]
    [InlineData("\"amount\":-5", "amount")]
    [InlineData("\"amount\":1.5", "amount")]
    [InlineData("\"amount\":\"60\"", "amount")]
    [InlineData("\"amount\":99999999999999999999999", "amount")]
    [InlineData("\"amount\":9223372036854775807", "amount")]
    [InlineData("\"amount\":1e3", "amount")]
    [InlineData("\"amount\":60,\"amount\":1", "amount")]
    [InlineData("\"amount\":60,\"Amount\":1", "Amount")]
    [InlineData("\"amount\":60,\"\\u0061mount\":1", "amount")]
    [InlineData("\"amount\":60,\"tokens\":-1", "tokens")]
    [InlineData("\"amount\":60,\"request_id\":\"\"", "request_id")]
    public async Task AHostileReserveBody_IsA4xxNamingTheField_AndHoldsNothing(string fields, string field)
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });

        (HttpStatusCode status, string text) = await PostAsync("/api/quota/reserve", $"{{\"key\":\"{key}\",{fields}}}");

        Assert.True((int)status is >= 400 and < 500, $"{status}: {text}");
        Assert.Equal(field, Param(text));
        Assert.Equal(0, await ReservedAsync(token));
    }

    [Fact]
    public async Task InvalidUtf8InAField_IsA400NamingIt()
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });
        byte[] head = Encoding.UTF8.GetBytes($"{{\"key\":\"{key}\",\"amount\":5,\"request_id\":\"a");
        byte[] body = [.. head, 0xC3, 0x28, .. "\"}"u8.ToArray()];

        (HttpStatusCode status, string text) = await PostAsync("/api/quota/reserve", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("request_id", Param(text));
        Assert.Equal(0, await ReservedAsync(token));
    }

    [Theory]
    [InlineData("{\"reservation_id\":\"zz\",\"amount\":1}", "reservation_id")]
    [InlineData("{\"reservation_id\":12,\"amount\":1}", "reservation_id")]
    [InlineData("{\"reservation_id\":\"00000000deadbeef\",\"amount\":1}", "reservation_id")]
    [InlineData("{\"reservation_id\":\"00000000deadbeef\",\"amount\":-1}", "amount")]
    [InlineData("{\"reservation_id\":\"00000000deadbeef\",\"reservation_id\":\"00000000deadbeef\"}", "reservation_id")]
    [InlineData("[1,2]", "body")]
    [InlineData("null", "body")]
    public async Task ASettleOfAForeignOrMalformedId_IsA4xxNamingTheField(string json, string field)
    {
        (HttpStatusCode status, string text) = await PostAsync("/api/quota/settle", json);

        Assert.True((int)status is >= 400 and < 500, $"{status}: {text}");
        Assert.Equal(field, Param(text));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(long.MaxValue)]
    public async Task ASettleWithANegativeOrHugeAmount_IsA400_AndTheReservationStaysOpen(long amount)
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });
        string id = JsonDocument.Parse((await PostAsync("/api/quota/reserve", $"{{\"key\":\"{key}\",\"amount\":60}}")).Text).RootElement.GetProperty("reservation_id").GetString()!;

        (HttpStatusCode status, string text) = await PostAsync("/api/quota/settle", $"{{\"reservation_id\":\"{id}\",\"amount\":{amount}}}");

        Assert.True((int)status is >= 400 and < 500, $"{status}: {text}");
        Assert.Equal(60, await ReservedAsync(token));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("/api/quota/refund", $"{{\"reservation_id\":\"{id}\"}}")).Status);
        Assert.Equal(0, await ReservedAsync(token));
    }

    [Fact]
    public async Task ARequestId_IsScopedToItsKey_AndAnotherAmountIsAConflict()
    {
        int user = await host.CreateUserAsync();
        (int a, string keyA) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 1000 });
        (int b, string keyB) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 1000 });

        (HttpStatusCode s1, string t1) = await PostAsync("/api/quota/reserve", $"{{\"key\":\"{keyA}\",\"amount\":60,\"request_id\":\"r1\"}}");
        (HttpStatusCode s2, string t2) = await PostAsync("/api/quota/reserve", $"{{\"key\":\"{keyB}\",\"amount\":60,\"request_id\":\"r1\"}}");
        (HttpStatusCode s3, string t3) = await PostAsync("/api/quota/reserve", $"{{\"key\":\"{keyA}\",\"amount\":61,\"request_id\":\"r1\"}}");

        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(HttpStatusCode.OK, s2);
        Assert.NotEqual(JsonDocument.Parse(t1).RootElement.GetProperty("reservation_id").GetString(), JsonDocument.Parse(t2).RootElement.GetProperty("reservation_id").GetString());
        Assert.Equal(HttpStatusCode.Conflict, s3);
        Assert.Equal("request_id", Param(t3));
        Assert.Equal((60L, 60L), (await ReservedAsync(a), await ReservedAsync(b)));
    }

    [Fact]
    public async Task SixteenConcurrentIdenticalReserves_MakeOneReservation_AndRacingSettlesAndRefundsHaveOneWinner()
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });
        string body = $"{{\"key\":\"{key}\",\"amount\":60,\"request_id\":\"same\"}}";

        (HttpStatusCode Status, string Text)[] reserves = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => PostAsync("/api/quota/reserve", body))));

        Assert.All(reserves, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        string id = Assert.Single(reserves.Select(r => JsonDocument.Parse(r.Text).RootElement.GetProperty("reservation_id").GetString()).Distinct())!;
        Assert.Equal(60, await ReservedAsync(token));

        // Settles (charge 25) and refunds race on the one id: exactly one kind wins, the repeats of the winner echo it.
        (HttpStatusCode Status, string Text)[] finishes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => i % 2 == 0
            ? PostAsync("/api/quota/settle", $"{{\"reservation_id\":\"{id}\",\"amount\":25}}")
            : PostAsync("/api/quota/refund", $"{{\"reservation_id\":\"{id}\"}}"))));

        Assert.All(finishes, f => Assert.NotEqual(HttpStatusCode.InternalServerError, f.Status));
        List<string> states = finishes.Where(f => f.Status == HttpStatusCode.OK).Select(f => JsonDocument.Parse(f.Text).RootElement.GetProperty("state").GetString()!).Distinct().ToList();
        string state = Assert.Single(states);
        JsonElement view = await host.GetJsonAsync($"/api/tokens/{token}");
        Assert.Equal(0, view.GetProperty("reserved_quota").GetInt64());
        Assert.Equal(state == "settled" ? 975 : 1000, view.GetProperty("remain_quota").GetInt64());
    }

    [Theory]
    [InlineData("{\"token_id\":-1,\"amount\":5}")]
    [InlineData("{\"token_id\":99999,\"amount\":5}")]
    [InlineData("{\"token_id\":2147483648,\"amount\":5}")]
    [InlineData("{\"key\":\"sk-nope\",\"token_id\":1,\"amount\":5}")]
    public async Task AReserveForAKeyThatIsNotThere_IsA4xx_AndHoldsNothing(string json)
    {
        (int token, _) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });

        (HttpStatusCode status, string text) = await PostAsync("/api/quota/reserve", json);

        Assert.True((int)status is >= 400 and < 500, $"{status}: {text}");
        Assert.Equal(0, await ReservedAsync(token));
    }

    [Fact]
    public async Task AWrongAdminKey_AfterARightOneOnTheSameConnection_IsStill401()
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 }) { BaseAddress = host.Admin.BaseAddress };
        async Task<HttpStatusCode> GetAsync(string secret)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/logs?type=consume");
            request.Headers.Authorization = new("Bearer", secret);
            using HttpResponseMessage response = await client.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await GetAsync(HostUnderTest.AdminKey));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(HostUnderTest.AdminKey));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(HostUnderTest.AdminKey + "x"));
        Assert.Equal(HttpStatusCode.Unauthorized, await GetAsync(HostUnderTest.AdminKey[..^1]));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(HostUnderTest.AdminKey));
    }
}
