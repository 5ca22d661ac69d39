using System.Net;
using System.Text.RegularExpressions;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// The key page and the key holder's <c>/me</c> show the key's 5-hour and weekly windows the way the relay's unified
/// headers tell them (docs/relay.md "Unified limits"): the warning state, each window's share used and a countdown
/// to its reset, in the reader's language.
/// </summary>
public sealed class UnifiedLimitsPageTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task AKeyAtEightyPercentOfItsFiveHourWindow_ShowsTheWarning_BothWindows_AndTheirCountdowns()
    {
        (int id, string key) = await KeyAtEightyPercentAsync();
        using var admin = new ConsoleClient(host.Admin.BaseAddress!);
        await admin.SignInAsync();
        using var holder = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage me = await holder.PostFormAsync("/me", "me", [new("Form.Key", key)]))
        {
            Assert.Equal(HttpStatusCode.Redirect, me.StatusCode);
        }

        foreach (string page in new[] { await admin.GetPageAsync($"/keys/{id}"), await holder.GetPageAsync("/me") })
        {
            Assert.Contains("data-status=\"allowed_warning\"", page, StringComparison.Ordinal);
            Assert.Contains("Warning: close to a limit.", page, StringComparison.Ordinal);
            Assert.Matches(new Regex("data-field=\"unified-5h\">80 % used · <time datetime=\"[0-9T:Z-]+\">resets in (4 h 5\\d|5 h 0) min</time>"), page);
            Assert.Matches(new Regex("data-field=\"unified-7d\">0.04 % used · <time datetime=\"[0-9T:Z-]+\">resets in (6 d 23|7 d 0) h</time>"), page);
            Assert.DoesNotContain("data-field=\"burn-rate\"", page, StringComparison.Ordinal); // 4 per 30 minutes for a week fit 10,000
        }
    }

    [Fact]
    public async Task ItSpeaksTheReadersLanguage_AndAKeyWithNeitherWindowHasNoCard()
    {
        (int id, _) = await KeyAtEightyPercentAsync(name: null); // a key without a name, with log rows: its page once failed with a 500
        (int plain, _) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1_000_000, quota_policy = new { period_mode = "daily", quota = 5 } });
        using var admin = new ConsoleClient(host.Admin.BaseAddress!);
        await admin.SignInAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/keys/{id}");
        request.Headers.TryAddWithoutValidation("Accept-Language", "zh-CN");

        using HttpResponseMessage response = await admin.Http.SendAsync(request);
        string chinese = await response.Content.ReadAsStringAsync();

        Assert.Contains("警告：接近限额。", chinese, StringComparison.Ordinal);
        Assert.Matches(new Regex("data-field=\"unified-5h\">已用 80%"), chinese);
        Assert.DoesNotContain("class=\"card unified\"", await admin.GetPageAsync($"/keys/{plain}"), StringComparison.Ordinal);
    }

    /// <summary>A key whose 5-hour window of 5 requests has 4 used; its weekly window counts 10,000.</summary>
    private async Task<(int Id, string Key)> KeyAtEightyPercentAsync(string? name = "claude-code")
    {
        (int id, string key) = await host.CreateTokenAsync(new
        {
            user_id = await host.CreateUserAsync(), name, remain_quota = 1_000_000,
            quota_policies = new object[]
            {
                new { period_mode = "preset_5h", quota = 5, metric = "requests" }, new { period_mode = "weekly", quota = 10_000, metric = "requests" },
            },
        });
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage answer = await host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } });
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            await answer.Content.ReadAsStringAsync();
        }

        for (int attempt = 0; attempt < 600 && (await host.GetJsonAsync($"/api/tokens/{id}")).GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64() < 4; attempt++)
        {
            await Task.Delay(50);
        }

        return (id, key);
    }
}
