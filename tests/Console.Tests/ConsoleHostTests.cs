using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Quota.Engine.Model;
using Quota.Host.ConsoleUi;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The console over HTTP without a browser: who may see what, antiforgery, and keys never shown twice.</summary>
public sealed class ConsoleHostTests : IAsyncLifetime
{
    private static readonly string[] DoneNotices = ["saved", "reset", "enabled", "disabled", "created", "credited", "regrouped"];
    private static readonly string[] ConsoleRoutes = ["/", "/?by=provider", "/keys", "/keys?status=enabled", "/keys/new", "/keys/1", "/keys/1/edit", "/keys/1?confirm=delete", "/users", "/users/1", "/logs", "/logs?token_id=1"];
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task EveryConsoleRoute_SignedOut_RedirectsToSignIn_AndRendersNoData()
    {
        int user = await host.CreateUserAsync();
        await host.CreateTokenAsync(new { user_id = user, name = "secret-name-7f3a", remain_quota = 100 });
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        foreach (string route in ConsoleRoutes)
        {
            using HttpResponseMessage response = await client.GetAsync(route);
            Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{route}: {(int)response.StatusCode}");
            Assert.StartsWith("/signin", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-name-7f3a", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using HttpResponseMessage signOut = await client.Http.PostAsync("/signout", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        Assert.StartsWith("/signin", signOut.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminBearerAlone_OnAConsoleRoute_IsSentToSignIn()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/users");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", HostUnderTest.AdminKey);
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using HttpResponseMessage response = await client.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    [Fact]
    public async Task SignIn_SetsAnHttpOnlySameSiteStrictCookie_ThatNeverAuthenticatesTheApis()
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage response = await client.PostFormAsync("/signin", "signin", [new("Form.AdminKey", HostUnderTest.AdminKey)]))
        {
            string cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("quota.console=", StringComparison.Ordinal));
            Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("secure", cookie.Replace("samesite", "", StringComparison.OrdinalIgnoreCase), StringComparison.OrdinalIgnoreCase); // plain HTTP here
        }

        Assert.Contains("<h1>API keys</h1>", await client.GetPageAsync("/keys"), StringComparison.Ordinal);
        using HttpResponseMessage api = await client.GetAsync("/api/tokens");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        using HttpResponseMessage relay = await client.GetAsync("/v1/quota");
        Assert.Equal(HttpStatusCode.Unauthorized, relay.StatusCode);
    }

    [Fact]
    public async Task SignIn_WithAWrongKey_ShowsTheErrorAtTheField_AndSetsNoSession()
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using HttpResponseMessage response = await client.PostFormAsync("/signin", "signin", [new("Form.AdminKey", "not-the-admin-key-000")]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("id=\"admin-key-err\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/users")).StatusCode);
    }

    [Fact]
    public async Task FormsWithoutTheAntiforgeryToken_AreRejected_AndChangeNothing()
    {
        int user = await host.CreateUserAsync(quota: 1000);
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage signIn = await client.PostFormAsync("/signin", "signin", [new("Form.AdminKey", HostUnderTest.AdminKey)], withToken: false))
        {
            Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);
        }

        await client.SignInAsync();
        using (HttpResponseMessage credit = await client.PostFormAsync($"/users/{user}", "credit", [new("Form.Delta", "5000")], withToken: false))
        {
            Assert.Equal(HttpStatusCode.BadRequest, credit.StatusCode);
        }

        using (HttpResponseMessage create = await client.PostFormAsync("/keys/new", "key", NewKeyFields(user), withToken: false))
        {
            Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
        }

        using (HttpResponseMessage signOut = await client.Http.PostAsync("/signout", new FormUrlEncodedContent([])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, signOut.StatusCode);
        }

        Assert.Equal(1000, (await host.GetJsonAsync($"/api/users/{user}")).GetProperty("quota").GetInt64());
        Assert.Equal(0, (await host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/users")).StatusCode); // still signed in
    }

    [Fact]
    public async Task AKeyCreatedInTheConsole_IsShownOnce_AndOnNoPageAfterwards()
    {
        int user = await host.CreateUserAsync();
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        using HttpResponseMessage created = await client.PostFormAsync("/keys/new", "key", NewKeyFields(user));
        string page = await created.Content.ReadAsStringAsync();
        string key = Regex.Match(page, "id=\"new-key\" readonly value=\"(sk-[^\"]+)\"").Groups[1].Value;
        Assert.StartsWith("sk-", key);
        Assert.Single(Regex.Matches(page, Regex.Escape(key)));
        int id = (await host.GetJsonAsync("/api/tokens")).GetProperty("items")[0].GetProperty("id").GetInt32();

        using (HttpResponseMessage me = await client.PostFormAsync("/me", "me", [new("Form.Key", key)]))
        {
            Assert.Equal(HttpStatusCode.Redirect, me.StatusCode);
        }

        foreach (string route in new[] { "/", "/keys", $"/keys/{id}", $"/keys/{id}/edit", $"/keys/{id}?confirm=reset-all", "/users", $"/users/{user}", "/logs", $"/logs?token_id={id}", "/me" })
        {
            string html = await client.GetPageAsync(route);
            Assert.DoesNotContain(key, html, StringComparison.Ordinal);
            Assert.DoesNotContain(key[3..], html, StringComparison.Ordinal);
        }

        Assert.Contains("data-field=\"remain\"", await client.GetPageAsync("/me"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyForm_BadValues_AreNamedAtTheirFields_AndNothingIsCreated()
    {
        int user = await host.CreateUserAsync();
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        List<KeyValuePair<string, string>> fields = NewKeyFields(user);
        fields.RemoveAll(f => f.Key is "Form.Policies[1].Quota" or "Form.RemainQuota");
        fields.Add(new("Form.Policies[1].Quota", "0"));
        fields.Add(new("Form.RemainQuota", "lots"));
        using HttpResponseMessage response = await client.PostFormAsync("/keys/new", "key", fields);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("id=\"remain_quota-err\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("new-key", html, StringComparison.Ordinal);

        fields.RemoveAll(f => f.Key == "Form.RemainQuota");
        fields.Add(new("Form.RemainQuota", "100"));
        using HttpResponseMessage second = await client.PostFormAsync("/keys/new", "key", fields);
        string secondHtml = await second.Content.ReadAsStringAsync();
        Assert.Contains("id=\"p1-quota-err\"", secondHtml, StringComparison.Ordinal); // the engine's SpecValidation named policy 2's quota
        Assert.Equal(0, (await host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task KeyForm_ForAScopedTokensPolicy_ShowsItsMetricAndModels_SoThatSavingKeepsThem()
    {
        int user = await host.CreateUserAsync();
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        List<KeyValuePair<string, string>> fields = NewKeyFields(user);
        fields.Add(new("Form.Policies[0].Metric", "Tokens"));
        fields.Add(new("Form.Policies[0].Models", "gpt-4o*, o3"));
        using HttpResponseMessage created = await client.PostFormAsync("/keys/new", "key", fields);
        Assert.Contains("id=\"new-key\"", await created.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        int id = (await host.GetJsonAsync("/api/tokens")).GetProperty("items")[0].GetProperty("id").GetInt32();

        string form = await client.GetPageAsync($"/keys/{id}/edit");
        Assert.Matches("<option value=\"Tokens\" selected[=>\" ]", form);
        Assert.Contains("value=\"gpt-4o*, o3\"", form, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeyCreatedByTheApiWithoutAName_IsListedSearchedAndShown_NeverA500()
    {
        // POST /api/tokens (and quotactl keys create) may omit "name": the label is stored without one.
        int user = await host.CreateUserAsync();
        (int unnamed, _) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 10 });

        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        Assert.Contains($"data-key-id=\"{unnamed}\"", await client.GetPageAsync("/keys"), StringComparison.Ordinal);
        Assert.Contains($"#{unnamed}", await client.GetPageAsync($"/keys/{unnamed}"), StringComparison.Ordinal);
        Assert.Equal(0, Regex.Count(await client.GetPageAsync("/keys?q=nothing-matches"), "data-key-id="));
    }

    [Theory]
    [InlineData("/keys?p=abc&user=x")]
    [InlineData("/keys?p=99999999999")]
    [InlineData("/logs?p=999999999999&token_id=x&user_id=1e3")]
    [InlineData("/users?p=-")]
    [InlineData("/keys/new?user=abc")]
    public async Task AHandEditedNumberInTheQuery_ShowsThePagesDefault_NeverA500(string path)
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        Assert.False(string.IsNullOrEmpty(await client.GetPageAsync(path)));
    }

    [Fact]
    public async Task KeysTable_FiltersByTheApisDisplayStatus_AndPagesOnTheServer()
    {
        int user = await host.CreateUserAsync();
        for (int i = 0; i < KeyDirectory.PageSize + 3; i++)
        {
            await host.CreateTokenAsync(new { user_id = user, name = $"bulk-{i:00}", remain_quota = 10 });
        }

        (int disabled, _) = await host.CreateTokenAsync(new { user_id = user, name = "off", remain_quota = 10 });
        using (HttpResponseMessage put = await host.Admin.PutAsJsonAsync($"/api/tokens/{disabled}", new { status = 2 }))
        {
            put.EnsureSuccessStatusCode();
        }

        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        string first = await client.GetPageAsync("/keys");
        Assert.Equal(KeyDirectory.PageSize, Regex.Count(first, "data-key-id="));
        Assert.Contains("href=\"/keys?q=&amp;status=&amp;p=2\"", first, StringComparison.Ordinal);
        Assert.Equal(4, Regex.Count(await client.GetPageAsync("/keys?p=2"), "data-key-id="));

        JsonElement api = await host.GetJsonAsync("/api/tokens?status=disabled");
        string filtered = await client.GetPageAsync("/keys?status=disabled");
        Assert.Equal(api.GetProperty("total").GetInt32(), Regex.Count(filtered, "data-key-id="));
        Assert.Contains($"data-key-id=\"{disabled}\"", filtered, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Count(await client.GetPageAsync("/keys?q=BULK-0"), "data-key-id=") - 8); // bulk-00 … bulk-09
    }

    [Fact]
    public async Task Languages_FollowAcceptLanguage_AndTheSwitch()
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/signin");
        request.Headers.AcceptLanguage.ParseAdd("zh-TW");
        using HttpResponseMessage traditional = await client.Http.SendAsync(request);
        Assert.Contains("<h1>登入</h1>", await traditional.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using HttpResponseMessage choose = await client.GetAsync("/culture?name=zh-CN&returnUrl=%2Fsignin");
        Assert.Equal("/signin", choose.Headers.Location!.OriginalString);
        Assert.Contains("<h1>登录</h1>", await client.GetPageAsync("/signin"), StringComparison.Ordinal);

        using HttpResponseMessage offsite = await client.GetAsync("/culture?name=en&returnUrl=%2F%2Fevil.example");
        Assert.Equal("/", offsite.Headers.Location!.OriginalString);
    }

    [Fact]
    public void EveryStringTheConsoleUses_ExistsInStringsResx()
    {
        // LanguageResourceTests checks that every other language has each of these names, with the same placeholders.
        string dir = Path.Combine(Screenshots.RepoRoot(), "src", "Host", "Console");
        HashSet<string> en = LanguageResourceTests.Names(Path.Combine(dir, "Resources", "Strings.resx"));
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(dir, "*.*", SearchOption.AllDirectories).Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".razor", StringComparison.Ordinal)))
        {
            foreach (Match match in Regex.Matches(File.ReadAllText(file), "T\\.(?:Get|Format)\\(\"([A-Za-z0-9_]+)\""))
            {
                if (!match.Groups[1].Value.EndsWith('_'))
                {
                    used.Add(match.Groups[1].Value); // a name ending in _ is a prefix completed at run time (listed below)
                }
            }
        }

        used.UnionWith(KeyDirectory.Statuses.Select(s => "Status_" + s));
        used.UnionWith(Enum.GetNames<PeriodMode>().Select(n => "Period_" + n));
        used.UnionWith(Enum.GetNames<ExhaustedAction>().Select(n => "Action_" + n));
        used.UnionWith(Enum.GetNames<BoundaryMode>().Select(n => "Boundary_" + n));
        used.UnionWith(Enum.GetNames<PolicyMetric>().Select(n => "Metric_" + n));
        used.UnionWith(Enum.GetNames<SpecError>().Select(n => "SpecError_" + n));
        used.UnionWith(LogSentences.Types.Select(t => "LogType_" + t.Replace('.', '_')));
        used.UnionWith(DoneNotices.Select(d => "Done_" + d));
        Assert.DoesNotContain(used, name => !en.Contains(name));
    }

    private static List<KeyValuePair<string, string>> NewKeyFields(int user) =>
    [
        new("Form.Name", "console-made"),
        new("Form.UserId", user.ToString()),
        new("Form.RemainQuota", "5000"),
        new("Form.Policies[0].Enabled", "true"),
        new("Form.Policies[0].PeriodMode", "Daily"),
        new("Form.Policies[0].Quota", "100"),
        new("Form.Policies[0].TimeZone", "Europe/Berlin"),
        new("Form.Policies[0].ExhaustedAction", "DisableToken"),
        new("Form.Policies[0].BoundaryMode", "Graceful"),
        new("Form.Policies[0].AutoResume", "true"),
        new("Form.Policies[1].Enabled", "true"),
        new("Form.Policies[1].PeriodMode", "Custom"),
        new("Form.Policies[1].CustomMinutes", "90"),
        new("Form.Policies[1].Quota", "300"),
        new("Form.Policies[1].TimeZone", "UTC"),
        new("Form.Policies[1].ExhaustedAction", "RejectOnly"),
        new("Form.Policies[1].BoundaryMode", "Strict"),
    ];
}
