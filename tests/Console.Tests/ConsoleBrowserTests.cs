using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The console in a real browser (Debian's Chromium, headless) against the real host and the fake upstream.</summary>
[Collection(BrowserGroup.Name)]
public sealed class ConsoleBrowserTests(BrowserFixture fixture)
{
    private static readonly LocatorAssertionsToContainTextOptions Soon = new() { Timeout = 10_000 };

    [Fact]
    public async Task Operator_SignsIn_CreatesUserAndKeyWithTwoPolicies_AndSeesTheKeyOnlyOnce()
    {
        IPage page = await fixture.NewPageAsync();
        await SignInAsync(page);

        await page.GotoAsync("/users");
        await page.FillAsync("#user-name", "browser-alice");
        await page.FillAsync("#user-quota", "5,000,000");
        await page.ClickAsync("button:has-text('Create user')");
        await Assertions.Expect(page.Locator("[data-field=balance]")).ToHaveTextAsync("5,000,000");

        await page.ClickAsync("a:has-text('New key')");
        await page.FillAsync("#name", "two-policies");
        await page.FillAsync("#remain_quota", "1000000");
        await page.CheckAsync("#p0-enabled");
        await page.SelectOptionAsync("#p0-period_mode", "Daily");
        await page.FillAsync("#p0-quota", "100");
        await page.SelectOptionAsync("#p0-exhausted_action", "DisableToken");
        await page.CheckAsync("#p1-enabled");
        await page.SelectOptionAsync("#p1-period_mode", "Weekly");
        await page.FillAsync("#p1-quota", "500");
        Assert.Equal("Asia/Shanghai", await page.InputValueAsync("#p1-time_zone")); // the operator's zone is the default
        await Screenshots.SaveAsync(page, "key-form");
        await page.ClickAsync("button:has-text('Create key')");

        string key = await page.InputValueAsync("#new-key");
        Assert.StartsWith("sk-", key);
        await page.ClickAsync("button[data-copy]");
        await Assertions.Expect(page.Locator(".copy-status")).ToHaveTextAsync("Copied");
        await Screenshots.SaveAsync(page, "key-created");

        await page.ClickAsync("a:has-text(\"Open the key's page\")");
        await Assertions.Expect(page.Locator(".policy-card")).ToHaveCountAsync(2);
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
        await page.GotoAsync("/keys");
        await Assertions.Expect(page.Locator("tr:has-text('two-policies') .usage")).ToHaveCountAsync(2);
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
        await Screenshots.SaveAsync(page, "keys-table");
    }

    [Fact]
    public async Task DisableTokenPolicy_ExhaustedThroughTheRelay_ShowsTemporarilyDisabled_AndAConsoleResetRestoresIt_LoggedInChinese()
    {
        int user = await fixture.Host.CreateUserAsync();
        (int id, string key) = await fixture.Host.CreateTokenAsync(new
        {
            user_id = user,
            name = "pausable",
            remain_quota = 1_000_000,
            quota_policy = new { period_mode = "daily", quota = 20, time_zone = "Asia/Shanghai", exhausted_action = "disable_token" },
        });
        await ExhaustThroughRelayAsync(id, key);

        IPage page = await fixture.NewPageAsync();
        await SignInAsync(page);
        await page.ClickAsync("nav.main-nav a:has-text('Keys')");
        await page.SelectOptionAsync("#status", "quota_policy_disabled");
        await page.ClickAsync("button:has-text('Apply')");
        ILocator row = page.Locator($"tr[data-key-id='{id}']");
        await Assertions.Expect(row.Locator(".badge")).ToHaveTextAsync("Temporarily disabled");
        await Assertions.Expect(page.Locator("tbody tr")).ToHaveCountAsync(1);
        await Screenshots.SaveAsync(page, "filter-temporarily-disabled");

        await row.Locator("a:has-text('pausable')").ClickAsync();
        await page.ClickAsync("a:has-text('Reset all policies')");
        await Assertions.Expect(page.Locator("#confirm-text")).ToContainTextAsync("gives the key back if a policy paused it");
        await page.ClickAsync("button:has-text('Yes, do it')");
        await Assertions.Expect(page.Locator("h1 .badge")).ToHaveTextAsync("Enabled");
        await Screenshots.SaveAsync(page, "after-reset");

        await page.ClickAsync("a[lang='zh-CN']");
        await Assertions.Expect(page.Locator("h1 .badge")).ToHaveTextAsync("已启用");
        ILocator reset = page.Locator("li[data-action='token.quota_policy.manual_reset']");
        for (int attempt = 0; attempt < 50 && await reset.CountAsync() == 0; attempt++)
        {
            await page.GotoAsync($"/logs?token_id={id}"); // the log writer stores rows in batches, shortly after the change
        }

        await Assertions.Expect(reset).ToContainTextAsync("已被手动重置", Soon);
        await Assertions.Expect(page.Locator("li[data-action='token.quota_policy.exhausted_disable']")).ToContainTextAsync("已暂时禁用");
        await Screenshots.SaveAsync(page, "logs-zh-CN");
    }

    [Fact]
    public async Task KeyHolderPage_ShowsWhatQuotaReports_AndKeepsTheKeyOutOfTheBrowser()
    {
        int user = await fixture.Host.CreateUserAsync();
        (_, string key) = await fixture.Host.CreateTokenAsync(new
        {
            user_id = user,
            name = "holder",
            remain_quota = 777_777,
            quota_policies = new object[]
            {
                new { period_mode = "daily", quota = 1000, exhausted_action = "disable_token", auto_resume = false },
                new { period_mode = "monthly", quota = 9000 },
            },
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quota");
        request.Headers.Authorization = new("Bearer", key);
        using HttpResponseMessage quota = await fixture.Host.Client.SendAsync(request);
        JsonElement own = await quota.Content.ReadFromJsonAsync<JsonElement>();

        IPage page = await fixture.NewPageAsync(width: 375, height: 800);
        await page.GotoAsync("/me");
        await page.FillAsync("#me-key", key);
        await page.ClickAsync("button:has-text('Show my quota')");
        await Assertions.Expect(page.Locator("[data-field=remain]")).ToHaveTextAsync(own.GetProperty("remain_quota").GetInt64().ToString("N0", System.Globalization.CultureInfo.GetCultureInfo("en")));
        await Assertions.Expect(page.Locator(".policy-card")).ToHaveCountAsync(own.GetProperty("policies").GetArrayLength());
        await Assertions.Expect(page.Locator(".policy-card").First).ToContainTextAsync("paused until the operator resets it");
        await Screenshots.SaveAsync(page, "me-phone");

        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.EvaluateAsync<int>("() => localStorage.length + sessionStorage.length"));
        Assert.DoesNotContain((await page.Context.CookiesAsync()), c => c.Value.Contains(key, StringComparison.Ordinal) || c.Value.Contains(key[3..], StringComparison.Ordinal));
        await page.ReloadAsync(); // the session, not the form, holds it
        await Assertions.Expect(page.Locator("[data-field=remain]")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task KeyForm_WithAnUnknownTimeZone_ShowsTheEnginesErrorAtThatField()
    {
        int user = await fixture.Host.CreateUserAsync();
        IPage page = await fixture.NewPageAsync();
        await SignInAsync(page);
        await page.GotoAsync($"/keys/new?user={user}");
        await page.FillAsync("#name", "bad-zone");
        await page.CheckAsync("#p0-enabled");
        await page.FillAsync("#p0-quota", "100");
        await page.FillAsync("#p0-time_zone", "Mars/Olympus_Mons");
        await page.ClickAsync("button:has-text('Create key')");

        ILocator field = page.Locator(".field:has(#p0-time_zone)");
        await Assertions.Expect(field.Locator(".field-error")).ToContainTextAsync("Not an IANA time zone id");
        await Assertions.Expect(page.Locator("#p0-time_zone")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator(".field-error")).ToHaveCountAsync(1);
        Assert.Equal(0, await page.Locator("#new-key").CountAsync());
        await Screenshots.SaveAsync(page, "validation-error");
    }

    [Fact]
    public async Task SignOut_EndsTheSession_AndTheConsoleAsksToSignInAgain()
    {
        IPage page = await fixture.NewPageAsync(width: 375, height: 800);
        await SignInAsync(page);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= 375"), "the keys page fits a 375 px phone");
        await Screenshots.SaveAsync(page, "keys-phone");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("#admin-key")).ToBeVisibleAsync();
        await page.GotoAsync("/users");
        Assert.Contains("/signin", page.Url, StringComparison.Ordinal);
        await Screenshots.SaveAsync(page, "signed-out");
    }

    [Fact]
    public async Task EveryPage_WorksUnderTheContentSecurityPolicy_WithoutARefusal()
    {
        int user = await fixture.Host.CreateUserAsync();
        (int id, string key) = await fixture.Host.CreateTokenAsync(new
        {
            user_id = user, name = "csp", remain_quota = 1_000_000, quota_policy = new { period_mode = "daily", quota = 1000 },
        });
        IPage page = await fixture.NewPageAsync();
        var refused = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                refused.Add(message.Text);
            }
        };
        await SignInAsync(page);
        Assert.Contains(await page.Context.CookiesAsync(), c => c.Name == "quota.tz" && c.Value == "Asia%2FShanghai"); // set by console.js
        foreach (string path in new[] { "/", "/keys", $"/keys/{id}", $"/keys/{id}/edit", "/keys/new", "/users", $"/users/{user}", "/logs", "/me" })
        {
            await page.GotoAsync(path);
        }

        await page.GotoAsync("/keys");
        ILocator used = page.Locator($"tr[data-key-id='{id}'] .usage svg.bar rect.used");
        await Assertions.Expect(used).ToHaveCountAsync(1); // the usage bar, drawn without inline style
        Assert.True(await used.EvaluateAsync<double>("rect => rect.getBBox().height") > 0);
        await page.GotoAsync("/me");
        await page.FillAsync("#me-key", key);
        await page.ClickAsync("button:has-text('Show my quota')");
        await Assertions.Expect(page.Locator(".policy-card svg.bar")).ToHaveCountAsync(1);
        Assert.True(refused.Count == 0, "refused under the CSP: " + string.Join(" | ", refused));
    }

    [Fact]
    public async Task APageOnAnotherPortOfTheSameHost_CannotFrameTheConsole()
    {
        int user = await fixture.Host.CreateUserAsync();
        (int id, _) = await fixture.Host.CreateTokenAsync(new { user_id = user, name = "framed", remain_quota = 100 });
        IPage page = await fixture.NewPageAsync();
        await SignInAsync(page); // the operator is signed in: SameSite=Strict cookies go to a frame on the same site (another port)
        var console = new List<string>();
        page.Console += (_, message) => console.Add(message.Text);

        string target = new Uri(fixture.BaseAddress, $"/keys/{id}?confirm=delete").ToString();
        WebApplication framer = WebApplication.CreateBuilder().Build();
        framer.Urls.Add("http://127.0.0.1:0");
        framer.MapGet("/", () => Results.Content($"<!DOCTYPE html><iframe id=\"victim\" src=\"{target}\" width=\"800\" height=\"600\"></iframe>", "text/html"));
        await framer.StartAsync();
        try
        {
            await page.GotoAsync(HostUnderTest.BoundAddress(framer) + "/");
            IFrame frame = page.Frames.Single(f => f != page.MainFrame);
            await frame.WaitForLoadStateAsync();
            Assert.DoesNotContain("Yes, do it", await frame.ContentAsync(), StringComparison.Ordinal);
            Assert.Contains(console, text => text.Contains("frame-ancestors", StringComparison.Ordinal));
        }
        finally
        {
            await framer.StopAsync();
            await framer.DisposeAsync();
        }

        Assert.Equal("framed", (await fixture.Host.GetJsonAsync($"/api/tokens/{id}")).GetProperty("name").GetString());
    }

    [Fact]
    public async Task TheDashboard_AfterRelayTraffic_ShowsTheKey_ItsRefusals_TablesAndCsv_AndFitsAPhone()
    {
        int user = await fixture.Host.CreateUserAsync();
        (int id, string key) = await fixture.Host.CreateTokenAsync(new
        {
            user_id = user, name = "dash-walker", remain_quota = 1_000_000,
            quota_policy = new { period_mode = "daily", quota = 2, metric = "requests" },
        });
        for (int call = 0; call < 3; call++) // two admitted, the third refused by the policy
        {
            using HttpResponseMessage response = await fixture.Host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } });
            await response.Content.ReadAsStringAsync();
        }

        IPage page = await fixture.NewPageAsync();
        await SignInAsync(page); // the dashboard is the first page
        ILocator top = page.Locator($"section[data-chart='top-keys'] tr[data-id='{id}']");
        for (int attempt = 0; attempt < 50 && await top.CountAsync() == 0; attempt++)
        {
            await page.ReloadAsync(); // the log writer stores rows (and their counters) in batches, shortly after
        }

        await Assertions.Expect(top.Locator("[data-field=requests]")).ToHaveTextAsync("2");
        ILocator bars = page.Locator("section[data-chart='spend'] svg[role='img'] rect.bar");
        Assert.True(await bars.CountAsync() > 0);
        Assert.Contains(await page.Locator("section[data-chart='spend'] svg rect.bar title").AllTextContentsAsync(),
            title => title.Contains("demo-per-call", StringComparison.Ordinal)); // other tests of this host add other models
        Assert.False(string.IsNullOrEmpty(await page.Locator("section[data-chart='spend'] svg").GetAttributeAsync("aria-label")));
        await page.ClickAsync("section[data-chart='spend'] details summary"); // the table behind the chart
        await Assertions.Expect(page.Locator("section[data-chart='spend'] details table")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("section[data-chart='refusals'] tr[data-reason='PolicyExhausted'][data-policy='0']")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator($"section[data-chart='near-exhaustion'] tr[data-key-id='{id}']")).ToContainTextAsync("100 %");
        await Screenshots.SaveAsync(page, "dashboard");

        await page.SelectOptionAsync("#by", "provider");
        await page.ClickAsync("button:has-text('Apply')");
        await Assertions.Expect(page.Locator("section[data-chart='spend'] svg rect.bar title", new() { HasTextString = "default" }).First).ToBeAttachedAsync();

        IDownload download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("section[data-chart='top-keys'] a[download]"));
        string csv = await File.ReadAllTextAsync((await download.PathAsync())!);
        Assert.StartsWith("token_id,name,spend_units,requests,tokens,hours", csv, StringComparison.Ordinal);
        Assert.Contains($"{id},dash-walker,", csv, StringComparison.Ordinal);

        IPage phone = await fixture.NewPageAsync(width: 375, height: 800);
        await SignInAsync(phone);
        Assert.True(await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= 375"), "the dashboard overflows 375 px");
        await Screenshots.SaveAsync(phone, "dashboard-375");
    }

    internal static async Task SignInAsync(IPage page)
    {
        await page.GotoAsync("/");
        Assert.Contains("/signin", page.Url, StringComparison.Ordinal);
        await page.FocusAsync("#admin-key");
        await page.Keyboard.TypeAsync(HostUnderTest.AdminKey);
        await page.Keyboard.PressAsync("Enter"); // keyboard only
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Dashboard");
    }

    /// <summary>Calls the relay until a disable_token policy pauses the key (each call costs the model's price).</summary>
    private async Task ExhaustThroughRelayAsync(int id, string key)
    {
        for (int call = 0; call < 20; call++)
        {
            using HttpResponseMessage response = await fixture.Host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } });
            await response.Content.ReadAsStringAsync();
            JsonElement token = await fixture.Host.GetJsonAsync($"/api/tokens/{id}");
            if (token.GetProperty("display_status").GetString() == "quota_policy_disabled")
            {
                return;
            }
        }

        Assert.Fail("the relay never exhausted the policy");
    }
}
