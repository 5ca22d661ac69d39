using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// A user's price group (docs/relay.md "Price groups"): <c>group</c> on the user, checked against
/// <c>Pricing:Groups</c>; its multiplier scales the estimate and the charge of every protocol; kept across a restart;
/// changed by <c>PUT /api/users/{id}</c> for the next request.
/// </summary>
public sealed class PriceGroupTests
{
    private static string[] Gold(string baseUrl) => [.. ProviderTests.Claude(baseUrl), "Pricing:Groups:gold:MultiplierPerMille=1500"];

    /// <summary>A user (in <paramref name="group"/>, or none given) with a key on it.</summary>
    private static async Task<(int User, int Token, string Key)> UserWithKeyAsync(HostUnderTest host, string? group)
    {
        using HttpResponseMessage created = await host.Admin.PostAsJsonAsync("/api/users", new { name = "u", quota = 100_000_000L, group });
        string text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        JsonElement user = JsonDocument.Parse(text).RootElement;
        Assert.Equal(group ?? "default", user.GetProperty("group").GetString());
        (int token, string key) = await host.CreateTokenAsync(new { user_id = user.GetProperty("id").GetInt32(), remain_quota = 1_000_000_000 });
        return (user.GetProperty("id").GetInt32(), token, key);
    }

    public static TheoryData<string, string> Protocols => new()
    {
        { "/v1/chat/completions", """{"model":"gpt-test","max_tokens":9,"messages":[{"role":"user","content":"Say something nice, and then a little more"}]}""" },
        { "/v1/messages", """{"model":"claude-test","max_tokens":9,"messages":[{"role":"user","content":"Say something nice, and then a little more"}]}""" },
        { "/v1/responses", """{"model":"gpt-test","max_output_tokens":9,"input":"Say something nice, and then a little more"}""" },
    };

    [Theory]
    [MemberData(nameof(Protocols))]
    public async Task AUserInAGroupOf1500PerMille_IsCharged1Point5Times_TheEstimateToo(string path, string body)
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, Gold);
        (_, int plainToken, string plainKey) = await UserWithKeyAsync(rig.Host, group: null);
        (_, int goldToken, string goldKey) = await UserWithKeyAsync(rig.Host, "gold");

        long plainCharge = await ChargeAsync(rig, plainKey, plainToken, path, body);
        long goldCharge = await ChargeAsync(rig, goldKey, goldToken, path, body);

        Assert.Equal((plainCharge * 1500 + 999) / 1000, goldCharge); // rounded up, in integers
        long plainEstimate = (await rig.ConsumeRowsAsync(plainToken))[0].GetProperty("params").GetProperty("estimate").GetInt64();
        long goldEstimate = (await rig.ConsumeRowsAsync(goldToken))[0].GetProperty("params").GetProperty("estimate").GetInt64();
        Assert.Equal((plainEstimate * 1500 + 999) / 1000, goldEstimate); // the reservation is a ceiling of the group's charge
    }

    /// <summary>Sends one request; checks its charge against the provider's usage (1 unit an input token, 5 an output
    /// token, times 1.5 in the gold group, rounded up) and returns it.</summary>
    private static async Task<long> ChargeAsync(RelayRig rig, string key, int token, string path, string body)
    {
        long before = (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64();
        using HttpResponseMessage response = path == "/v1/messages" ? await rig.MessagesAsync(key, body) : await rig.PostAsync(key, body, path);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        JsonElement usage = JsonDocument.Parse(text).RootElement.GetProperty("usage");
        long input = usage.TryGetProperty("prompt_tokens", out JsonElement prompt) ? prompt.GetInt64() : usage.GetProperty("input_tokens").GetInt64();
        long output = usage.TryGetProperty("completion_tokens", out JsonElement completion) ? completion.GetInt64() : usage.GetProperty("output_tokens").GetInt64();
        long charged = (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64() - before;
        Assert.True(input > 0 && output > 0, usage.ToString());
        JsonElement user = await rig.Host.GetJsonAsync($"/api/users/{(await rig.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("user_id").GetInt32()}");
        long asPriced = input + (5 * output);
        Assert.Equal(user.GetProperty("group").GetString() == "gold" ? (asPriced * 1500 + 999) / 1000 : asPriced, charged);
        return charged;
    }

    [Fact]
    public async Task AnUnknownGroup_Is400NamingGroup_AndWritesNothing()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, Gold);

        using HttpResponseMessage created = await rig.Host.Admin.PostAsJsonAsync("/api/users", new { name = "u", quota = 100, group = "platinum" });
        JsonElement problem = await created.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        Assert.Equal("group", problem.GetProperty("field").GetString());
        Assert.Contains("gold", problem.GetProperty("detail").GetString(), StringComparison.Ordinal); // names the groups there are
        using HttpResponseMessage none = await rig.Host.Admin.GetAsync("/api/users/1");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
    }

    [Fact]
    public async Task PuttingAUserInAnotherGroup_PricesItsNextRequestThere_AndAnUnknownGroupChangesNothing()
    {
        await using RelayRig rig = await RelayRig.StartAsync(null, Gold);
        (int user, int token, string key) = await UserWithKeyAsync(rig.Host, group: null);
        const string Chat = """{"model":"gpt-test","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}""";
        long plain = await ChargeAsync(rig, key, token, "/v1/chat/completions", Chat);

        using (HttpResponseMessage unknown = await rig.Host.Admin.PutAsJsonAsync($"/api/users/{user}", new { group = "platinum", name = "renamed" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
            Assert.Equal("group", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        }

        using (HttpResponseMessage quota = await rig.Host.Admin.PutAsJsonAsync($"/api/users/{user}", new { quota = 5 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, quota.StatusCode);
            Assert.Equal("quota", (await quota.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        }

        JsonElement unchanged = await rig.Host.GetJsonAsync($"/api/users/{user}");
        Assert.Equal(("u", "default"), (unchanged.GetProperty("name").GetString(), unchanged.GetProperty("group").GetString()));

        using HttpResponseMessage moved = await rig.Host.Admin.PutAsJsonAsync($"/api/users/{user}", new { group = "gold" });
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("gold", (await moved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("group").GetString());
        long gold = await ChargeAsync(rig, key, token, "/v1/chat/completions", Chat);
        Assert.Equal((plain * 1500 + 999) / 1000, gold);

        using HttpResponseMessage missing = await rig.Host.Admin.PutAsJsonAsync("/api/users/99", new { group = "gold" });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task AUsersGroup_SurvivesARestart()
    {
        using var data = new TempDirectory();
        string[] gold = ["--Pricing:Groups:gold:MultiplierPerMille=1500"];
        var chat = new { model = "demo-per-call", max_tokens = 5, messages = new[] { new { role = "user", content = "hi" } } };
        int user, token;
        string key;
        await using (HostUnderTest first = await HostUnderTest.StartAsync(data.Path, null, null, gold))
        {
            (user, token, key) = await UserWithKeyAsync(first, "gold");
        }

        await using HostUnderTest second = await HostUnderTest.StartAsync(data.Path, null, null, gold);
        using HttpResponseMessage response = await second.ChatAsync(key, chat);
        await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("gold", (await second.GetJsonAsync($"/api/users/{user}")).GetProperty("group").GetString());
        Assert.Equal(23, (await second.GetJsonAsync($"/api/tokens/{token}")).GetProperty("used_quota").GetInt64()); // 15 per call × 1.5, rounded up
    }
}
