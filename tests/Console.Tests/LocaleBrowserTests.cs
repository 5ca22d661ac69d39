using System.Text.Json;
using Microsoft.Playwright;
using Quota.Host.ConsoleUi;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// Every language of the console on a 375 px phone, in the one shared browser: the browser's own locale picks the
/// language (Accept-Language), and no page — keys, key, key form, users, user, logs, the key holder's page — is wider
/// than the screen. Screenshots of three pages per language go to TestResults/console/locales/; with
/// QUOTA_DOCS_SCREENSHOTS=1 they also replace the ones in docs/screenshots/{language}/ (which are committed after
/// `pngquant --quality 70-95 --ext .png`, a third of the size).
/// </summary>
[Collection(BrowserGroup.Name)]
public sealed class LocaleBrowserTests(BrowserFixture fixture)
{
    private const int PhoneWidth = 375;
    private static readonly string[] DemoModels = ["demo-*"];

    /// <summary>The browser locale that asks for each language (a region, as a phone sends it).</summary>
    private static readonly Dictionary<string, string> BrowserLocales = new(StringComparer.Ordinal)
    {
        ["en"] = "en-US", ["zh-CN"] = "zh-CN", ["zh-TW"] = "zh-TW", ["fr"] = "fr-FR", ["ja"] = "ja-JP", ["ru"] = "ru-RU", ["vi"] = "vi-VN",
    };

    /// <summary>
    /// What is wider than the viewport: the document's scroll width, every visible element whose right edge passes the
    /// viewport, and every element whose own content is wider than its box — spilling out or scrolling sideways inside it
    /// (a table in a scroll box is still too wide for a phone). Deliberately clipped boxes (overflow hidden, such as
    /// visually hidden labels) and text inputs, which scroll their value by design, are not counted.
    /// </summary>
    private const string Overflow = """
        () => {
          const width = document.documentElement.clientWidth;
          const describe = el => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : ''} “${(el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 40)}”`;
          const wide = [];
          for (const el of document.body.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            if (box.width === 0 || box.height === 0 || style.visibility === 'hidden' || ['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) continue;
            const contentTooWide = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'hidden' && style.overflowX !== 'clip';
            if (box.right > width + 0.5 || contentTooWide) wide.push(`${describe(el)}: right ${Math.round(box.right)}, content ${el.scrollWidth} in ${el.clientWidth}`);
          }
          return { scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 8) };
        }
        """;

    [Fact]
    public async Task EveryLanguage_FitsA375PxPhone_OnEveryPage()
    {
        Assert.Equal(Languages.Names.Order(StringComparer.Ordinal), BrowserLocales.Keys.Order(StringComparer.Ordinal));
        int user = await fixture.Host.CreateUserAsync();
        (int id, string key) = await fixture.Host.CreateTokenAsync(new
        {
            user_id = user,
            name = "mobile-team-production",
            remain_quota = 50_000_000,
            quota_policies = new object[]
            {
                new { period_mode = "daily", quota = 2_000_000, time_zone = "Asia/Shanghai", exhausted_action = "disable_token", auto_resume = false },
                new { period_mode = "custom", custom_minutes = 90, quota = 40, metric = "requests", models = DemoModels, boundary_mode = "strict_pre_check" },
            },
        });
        for (int call = 0; call < 3; call++)
        {
            using HttpResponseMessage chat = await fixture.Host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } });
            chat.EnsureSuccessStatusCode();
        }

        var failures = new List<string>();
        foreach (string language in Languages.Names)
        {
            IPage page = await fixture.NewPageAsync(width: PhoneWidth, height: 800, locale: BrowserLocales[language]);
            try
            {
                await SignInAsync(page, language);
                foreach ((string path, string? screenshot) in new (string, string?)[]
                {
                    ("/", "keys"), ($"/keys/{id}", "key"), ($"/keys/{id}/edit", null), ("/users", null), ($"/users/{user}", null), ($"/logs?token_id={id}", null),
                })
                {
                    await page.GotoAsync(path);
                    await CheckAsync(page, language, path, screenshot, failures);
                }

                await page.GotoAsync("/me");
                await page.FillAsync("#me-key", key);
                await page.ClickAsync("form button[type=submit].primary");
                await Assertions.Expect(page.Locator(".policy-card")).ToHaveCountAsync(2);
                await CheckAsync(page, language, "/me", "me", failures);
            }
            finally
            {
                await page.Context.CloseAsync();
            }
        }

        Assert.True(failures.Count == 0, "wider than a 375 px phone:\n" + string.Join('\n', failures));
    }

    [Fact]
    public async Task TheOverflowCheck_FindsAWideBox_AndTextThatSpillsOutOfItsBox()
    {
        IPage page = await fixture.NewPageAsync(width: PhoneWidth, height: 800);
        try
        {
            await page.GotoAsync("/signin");
            Assert.Empty((await page.EvaluateAsync<JsonElement>(Overflow)).GetProperty("wide").EnumerateArray());

            await page.EvaluateAsync("""
                () => {
                  const wide = document.createElement('div'); wide.id = 'too-wide'; wide.style.width = '400px'; wide.style.height = '10px';
                  const narrow = document.createElement('p'); narrow.id = 'spills'; narrow.style.width = '100px'; narrow.textContent = 'Réinitialisation_sans_espace_possible_ici';
                  document.querySelector('main').append(wide, narrow);
                }
                """);
            JsonElement overflow = await page.EvaluateAsync<JsonElement>(Overflow);
            string[] wide = overflow.GetProperty("wide").EnumerateArray().Select(e => e.GetString()!).ToArray();

            Assert.True(overflow.GetProperty("scrollWidth").GetInt32() > PhoneWidth);
            Assert.Contains(wide, text => text.StartsWith("div#too-wide", StringComparison.Ordinal));
            Assert.Contains(wide, text => text.StartsWith("p#spills", StringComparison.Ordinal));
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }

    /// <summary>Signs in by keyboard, and checks that the browser's locale chose the language.</summary>
    private static async Task SignInAsync(IPage page, string language)
    {
        await page.GotoAsync("/signin");
        Assert.Equal(language, await page.GetAttributeAsync("html", "lang"));
        await page.FocusAsync("#admin-key");
        await page.Keyboard.TypeAsync(HostUnderTest.AdminKey);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync(url => !url.Contains("/signin", StringComparison.Ordinal)); // whichever page comes first after sign-in
        await Assertions.Expect(page.Locator("nav.main-nav")).ToContainTextAsync(Text(language, "Nav_Keys"));
    }

    private static async Task CheckAsync(IPage page, string language, string path, string? screenshot, List<string> failures)
    {
        Assert.Equal(language, await page.GetAttributeAsync("html", "lang"));
        JsonElement overflow = await page.EvaluateAsync<JsonElement>(Overflow);
        int scrollWidth = overflow.GetProperty("scrollWidth").GetInt32();
        string[] wide = overflow.GetProperty("wide").EnumerateArray().Select(e => e.GetString()!).ToArray();
        if (scrollWidth > PhoneWidth || wide.Length > 0)
        {
            failures.Add($"{language} {path}: scrollWidth {scrollWidth}; {string.Join("; ", wide)}");
            await Screenshots.SaveAsync(page, $"overflow-{language}-{path.Trim('/').Replace('/', '-').Replace('?', '-')}");
        }

        if (screenshot is not null)
        {
            await SaveAsync(page, language, screenshot);
        }
    }

    /// <summary>The viewport (not the full page), so a language's pages stay a few tens of kilobytes each.</summary>
    private static async Task SaveAsync(IPage page, string language, string name)
    {
        byte[] png = await page.ScreenshotAsync();
        string local = Directory.CreateDirectory(Path.Combine(Screenshots.Directory, "locales", language)).FullName;
        await File.WriteAllBytesAsync(Path.Combine(local, name + ".png"), png);
        if (Environment.GetEnvironmentVariable("QUOTA_DOCS_SCREENSHOTS") == "1")
        {
            string docs = Directory.CreateDirectory(Path.Combine(Screenshots.RepoRoot(), "docs", "screenshots", language)).FullName;
            await File.WriteAllBytesAsync(Path.Combine(docs, name + ".png"), png);
        }
    }

    /// <summary>A console string in a language, as the host renders it.</summary>
    private static string Text(string language, string name)
    {
        using var culture = CultureScope.Use(language);
        return T.Get(name);
    }
}
