using Microsoft.Playwright;

namespace Quota.Host.Tests.Support;

/// <summary>
/// One real host (Kestrel on loopback, real data directory, tools/FakeUpstream as the provider) and one headless
/// Debian Chromium, shared by the browser tests. Playwright's own browser download is not used: the browser is the
/// system's /usr/bin/chromium (.ci/run installs it).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private readonly TempDirectory data = new();
    private UpstreamUnderTest? upstream;
    private IPlaywright? playwright;

    internal HostUnderTest Host { get; private set; } = default!;
    public IBrowser Browser { get; private set; } = default!;
    public Uri BaseAddress => Host.Admin.BaseAddress!;

    public async Task InitializeAsync()
    {
        upstream = await UpstreamUnderTest.StartAsync();
        Host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl);
        playwright = await Playwright.CreateAsync();
        // CI shares two cores with the whole suite: a first server render can take seconds. Waits are on conditions, so a
        // long bound costs nothing when things are fast.
        Assertions.SetDefaultExpectTimeout(30_000);
        Browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A fresh browser context (own cookies) in the operator's zone, desktop-sized unless told.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 900, string locale = "en-US")
    {
        IBrowserContext context = await Browser.NewContextAsync(new()
        {
            BaseURL = BaseAddress.ToString(),
            TimezoneId = "Asia/Shanghai",
            Locale = locale,
            ViewportSize = new() { Width = width, Height = height },
        });
        context.SetDefaultTimeout(60_000);
        context.SetDefaultNavigationTimeout(60_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        playwright?.Dispose();
        await Host.DisposeAsync();
        await upstream!.DisposeAsync();
        data.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserGroup : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}

/// <summary>Screenshots every browser test leaves behind, under TestResults/ at the repository root.</summary>
internal static class Screenshots
{
    public static string Directory { get; } = System.IO.Directory.CreateDirectory(Path.Combine(RepoRoot(), "TestResults", "console")).FullName;

    public static Task SaveAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(Directory, name + ".png"), FullPage = true });

    public static string RepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Engine.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? AppContext.BaseDirectory;
    }
}
