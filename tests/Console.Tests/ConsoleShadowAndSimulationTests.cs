using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// A shadow policy's report on the key's page, and the key form's simulation, in a real browser (Debian's Chromium)
/// against the real host, its relay and the fake upstream (docs/api.md "Shadow policies", "Simulating policies").
/// </summary>
[Collection(BrowserGroup.Name)]
public sealed class ConsoleShadowAndSimulationTests(BrowserFixture fixture)
{
    [Fact]
    public async Task AShadowPolicysRefusals_ShowOnTheKeysPage_AndASimulationOfItAsEnforcing_ShowsThemAsAChart()
    {
        int user = await fixture.Host.CreateUserAsync();
        (int id, string key) = await fixture.Host.CreateTokenAsync(new
        {
            user_id = user,
            name = "dry-run",
            remain_quota = 1_000_000,
            quota_policy = new { period_mode = "daily", metric = "requests", quota = 1, mode = "shadow" },
        });
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage ok = await fixture.Host.ChatAsync(key, new { model = "gpt-4o-mini", max_tokens = 5, messages = new[] { new { role = "user", content = "hi" } } });
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode); // a shadow policy refuses nothing
            await ok.Content.ReadAsStringAsync();
        }

        await WaitForConsumeRowsAsync(id, 3);

        IPage page = await fixture.NewPageAsync();
        await ConsoleBrowserTests.SignInAsync(page);
        await page.GotoAsync($"/keys/{id}");
        ILocator report = page.Locator(".policy-card[data-policy='0'] .shadow-report");
        await Assertions.Expect(report).ToContainTextAsync("Shadow: refuses nothing");
        await Assertions.Expect(report).ToContainTextAsync("Would have refused 2 requests in this window.");
        await Screenshots.SaveAsync(page, "key-shadow-policy");

        await page.ClickAsync("a:has-text('Edit')");
        Assert.Equal("Shadow", await page.InputValueAsync("#p0-mode"));
        await page.ClickAsync("button:has-text('Simulate')");
        ILocator simulation = page.Locator(".simulation");
        await Assertions.Expect(simulation.Locator(".sim-summary")).ToHaveTextAsync("2 of 3 requests would have been refused.");
        await Assertions.Expect(simulation.Locator(".sim-policies li[data-policy='0']")).ToHaveTextAsync("Policy 1: 2 refused");
        await Assertions.Expect(simulation.Locator("svg.chart")).ToHaveAttributeAsync("aria-label", "Requests that would have been refused, per day (UTC)");
        Assert.Equal(31, await simulation.Locator("svg.chart rect.bar").CountAsync()); // one bar per UTC day of the 30 days
        await Screenshots.SaveAsync(page, "key-simulation");

        // Nothing was saved: the key's page still shows the shadow policy and its count.
        await page.GotoAsync($"/keys/{id}");
        await Assertions.Expect(report).ToContainTextAsync("Would have refused 2 requests in this window.");
    }

    private async Task WaitForConsumeRowsAsync(int token, int expected)
    {
        int rows = 0;
        for (int attempt = 0; attempt < 600 && rows < expected; attempt++)
        {
            await Task.Delay(50);
            JsonElement page = await fixture.Host.GetJsonAsync($"/api/logs?token_id={token}&type=consume");
            rows = page.GetProperty("total").GetInt32();
        }

        Assert.Equal(expected, rows);
    }
}
