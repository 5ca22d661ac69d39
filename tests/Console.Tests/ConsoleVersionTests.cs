using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// The console's edit forms save against the version they were rendered from (docs/api.md "Versions"): a change saved
/// meanwhile elsewhere is never overwritten — the page says so, keeps what the operator typed, and writes nothing.
/// </summary>
public sealed partial class ConsoleVersionTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, null, null, "--Pricing:Groups:gold:MultiplierPerMille=1500");

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task AKeyFormOpenedBeforeAnotherSave_ShowsTheConflict_AndWritesNothing_AReloadedOneSaves_KeepingTheBudgetUsedMeanwhile()
    {
        int user = await host.CreateUserAsync();
        (int id, string key) = await host.CreateTokenAsync(new
        {
            user_id = user, name = "before", remain_quota = 5_000,
            quota_policy = new { period_mode = "daily", quota = 100, time_zone = "UTC" },
        });
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        string opened = await client.GetPageAsync($"/keys/{id}/edit");

        using (HttpResponseMessage elsewhere = await host.Admin.PutAsJsonAsync($"/api/tokens/{id}", new { name = "theirs" }))
        {
            Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        }

        using (HttpResponseMessage stale = await client.PostFormAsync($"/keys/{id}/edit", "key", EditFields(opened, user, "mine")))
        {
            Assert.Equal(HttpStatusCode.OK, stale.StatusCode); // the form again, not a redirect to the saved key
            string page = await stale.Content.ReadAsStringAsync();
            Assert.Contains("data-field=\"version-conflict\"", page, StringComparison.Ordinal);
            Assert.Contains("value=\"mine\"", page, StringComparison.Ordinal); // what the operator typed is kept
        }

        Assert.Equal("theirs", (await host.GetJsonAsync($"/api/tokens/{id}")).GetProperty("name").GetString());

        string reloaded = await client.GetPageAsync($"/keys/{id}/edit");
        await SpendAsync(key, 30); // usage while the form is open: not a change of the key's configuration
        using (HttpResponseMessage saved = await client.PostFormAsync($"/keys/{id}/edit", "key", EditFields(reloaded, user, "mine")))
        {
            Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        }

        JsonElement token = await host.GetJsonAsync($"/api/tokens/{id}");
        Assert.Equal("mine", token.GetProperty("name").GetString());
        Assert.Equal(5_000 - 30, token.GetProperty("remain_quota").GetInt64()); // the budget field was not changed: not saved back
    }

    [Fact]
    public async Task AUsersRegroupFromAPageOpenedBeforeAnotherSave_ShowsTheConflict_AndKeepsTheSavedGroup()
    {
        int user = await host.CreateUserAsync();
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        string opened = await client.GetPageAsync($"/users/{user}");
        string version = Hidden(opened, "GroupForm.Version");

        using (HttpResponseMessage elsewhere = await host.Admin.PutAsJsonAsync($"/api/users/{user}", new { group = "gold" }))
        {
            Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        }

        using (HttpResponseMessage stale = await client.PostFormAsync($"/users/{user}", "regroup", [new("GroupForm.Group", "default"), new("GroupForm.Version", version)]))
        {
            Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
            Assert.Contains("data-field=\"version-conflict\"", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal("gold", (await host.GetJsonAsync($"/api/users/{user}")).GetProperty("group").GetString());

        string current = Hidden(await client.GetPageAsync($"/users/{user}"), "GroupForm.Version");
        using (HttpResponseMessage saved = await client.PostFormAsync($"/users/{user}", "regroup", [new("GroupForm.Group", "default"), new("GroupForm.Version", current)]))
        {
            Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        }

        Assert.Equal("default", (await host.GetJsonAsync($"/api/users/{user}")).GetProperty("group").GetString());
    }

    /// <summary>The edit form as a browser would post it from <paramref name="page"/> (its hidden version and budget), renamed.</summary>
    private static List<KeyValuePair<string, string>> EditFields(string page, int user, string name) =>
    [
        new("Form.Name", name),
        new("Form.UserId", user.ToString()),
        new("Form.Version", Hidden(page, "Form.Version")),
        new("Form.RemainShown", Hidden(page, "Form.RemainShown")),
        new("Form.RemainQuota", Hidden(page, "Form.RemainShown")),
        new("Form.Policies[0].Enabled", "true"),
        new("Form.Policies[0].PeriodMode", "Daily"),
        new("Form.Policies[0].Quota", "100"),
        new("Form.Policies[0].TimeZone", "UTC"),
        new("Form.Policies[0].ExhaustedAction", "RejectOnly"),
        new("Form.Policies[0].BoundaryMode", "Graceful"),
        new("Form.Policies[0].Metric", "Quota"),
        new("Form.Policies[0].Enforcement", "Enforce"),
    ];

    private async Task SpendAsync(string key, long amount)
    {
        using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount });
        string reservation = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
        using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = reservation, amount });
        Assert.Equal(HttpStatusCode.OK, settle.StatusCode);
    }

    private static string Hidden(string page, string name)
    {
        Match match = Regex.Match(page, $"type=\"hidden\" name=\"{Regex.Escape(name)}\" value=\"([^\"]*)\"");
        Assert.True(match.Success, $"no hidden {name} on the page");
        return match.Groups[1].Value;
    }
}
