using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// The console against an attacker (docs/operations.md "Console sessions", README "Security"): no framing, sessions that
/// end on the server, a key holder's session that starts afresh on every lookup, throttled guessing, and proxies.
/// </summary>
public sealed class ConsoleSecurityTests
{
    private const string Csp = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    [Fact]
    public async Task EveryConsoleResponse_ForbidsFraming_AndCarriesTheSecurityHeaders()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        int user = await host.CreateUserAsync();
        (int id, _) = await host.CreateTokenAsync(new { user_id = user, name = "k", remain_quota = 100 });
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        var responses = new List<HttpResponseMessage>
        {
            await client.GetAsync("/"), await client.GetAsync("/signin"), await client.GetAsync("/signin"), await client.GetAsync("/me"),
            await client.GetAsync("/console/console.css"), await client.GetAsync("/culture?name=zh-CN&returnUrl=/"),
            await client.PostFormAsync("/signin", "signin", [new("Form.AdminKey", HostUnderTest.AdminKey)]),
        };
        foreach (string path in new[] { "/", "/", $"/keys/{id}?confirm=delete", $"/keys/{id}?confirm=delete", "/users", "/no-such-page" })
        {
            responses.Add(await client.GetAsync(path));
        }

        foreach (HttpResponseMessage response in responses)
        {
            string what = $"{response.RequestMessage!.Method} {response.RequestMessage.RequestUri!.PathAndQuery} → {(int)response.StatusCode}";
            Assert.True(response.Headers.TryGetValues("Content-Security-Policy", out IEnumerable<string>? csp), what);
            Assert.Equal(Csp, Assert.Single(csp));
            Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
            Assert.Equal("same-origin", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
            response.Dispose();
        }
    }

    [Fact]
    public async Task Redirects_AreRelative_SoAProxyNeverSeesAnHttpLocation()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage toSignIn = await client.GetAsync("/users"))
        {
            Assert.Equal(HttpStatusCode.Redirect, toSignIn.StatusCode);
            Assert.Equal("/signin?returnUrl=%2Fusers", toSignIn.Headers.Location!.OriginalString);
        }

        using HttpResponseMessage signedIn = await client.PostFormAsync("/signin", "signin", [new("Form.AdminKey", HostUnderTest.AdminKey), new("Form.ReturnUrl", "/users")]);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/users", signedIn.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task SignOut_EndsTheSessionOnTheServer_SoACopiedCookieIsWorthless()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        using var operatorBrowser = new ConsoleClient(host.Admin.BaseAddress!);
        await operatorBrowser.SignInAsync();
        using var thief = new ConsoleClient(host.Admin.BaseAddress!);
        thief.SetCookie("quota.console", operatorBrowser.Cookie("quota.console")!);
        Assert.Equal(HttpStatusCode.OK, (await thief.GetAsync("/users")).StatusCode); // a stolen cookie works while the session lives

        await PostSignOutAsync(operatorBrowser, "/signout");

        Assert.Equal(HttpStatusCode.Redirect, (await thief.GetAsync("/users")).StatusCode);
    }

    [Fact]
    public async Task SignOutEverywhere_EndsEveryBrowsersSession_AndNeedsTheAntiforgeryToken()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        using var laptop = new ConsoleClient(host.Admin.BaseAddress!);
        using var phone = new ConsoleClient(host.Admin.BaseAddress!);
        await laptop.SignInAsync();
        await phone.SignInAsync();

        using (HttpResponseMessage forged = await laptop.Http.PostAsync("/signout-everywhere", new FormUrlEncodedContent([])))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await phone.GetAsync("/users")).StatusCode);
        Assert.Contains("action=\"/signout-everywhere\"", await laptop.GetPageAsync("/"), StringComparison.Ordinal);
        await PostSignOutAsync(laptop, "/signout-everywhere");
        Assert.Equal(HttpStatusCode.Redirect, (await phone.GetAsync("/users")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await laptop.GetAsync("/users")).StatusCode);
    }

    [Fact]
    public async Task ASession_EndsWhenIdle_AndAtItsLifetime_HoweverBusy()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, time);
        using var idle = new ConsoleClient(host.Admin.BaseAddress!);
        await idle.SignInAsync();
        time.Advance(TimeSpan.FromMinutes(61)); // Console:SessionIdleMinutes defaults to 60
        Assert.Equal(HttpStatusCode.Redirect, (await idle.GetAsync("/users")).StatusCode);

        using var busy = new ConsoleClient(host.Admin.BaseAddress!);
        await busy.SignInAsync();
        TimeSpan elapsed = TimeSpan.Zero;
        while (elapsed < TimeSpan.FromHours(12) - TimeSpan.FromMinutes(50))
        {
            time.Advance(TimeSpan.FromMinutes(50));
            elapsed += TimeSpan.FromMinutes(50);
            Assert.True((await busy.GetAsync("/users")).StatusCode == HttpStatusCode.OK, $"after {elapsed}");
        }

        time.Advance(TimeSpan.FromMinutes(50)); // past Console:SessionLifetimeHours (12) since sign-in
        Assert.Equal(HttpStatusCode.Redirect, (await busy.GetAsync("/users")).StatusCode);
    }

    [Fact]
    public async Task Sessions_DoNotSurviveARestart()
    {
        using var data = new TempDirectory();
        string cookie;
        await using (HostUnderTest first = await HostUnderTest.StartAsync(data.Path, null))
        {
            using var browser = new ConsoleClient(first.Admin.BaseAddress!);
            await browser.SignInAsync();
            cookie = browser.Cookie("quota.console")!;
        }

        await using HostUnderTest second = await HostUnderTest.StartAsync(data.Path, null);
        using var again = new ConsoleClient(second.Admin.BaseAddress!);
        again.SetCookie("quota.console", cookie);
        Assert.Equal(HttpStatusCode.Redirect, (await again.GetAsync("/users")).StatusCode);
    }

    [Fact]
    public async Task AKeyLookup_StartsANewSession_SoAPlantedSessionCookieNeverShowsTheVictimsKey()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        int user = await host.CreateUserAsync();
        (_, string attackerKey) = await host.CreateTokenAsync(new { user_id = user, name = "attacker", remain_quota = 100 });
        (_, string victimKey) = await host.CreateTokenAsync(new { user_id = user, name = "victim", remain_quota = 777 });

        using var attacker = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage look = await attacker.PostFormAsync("/me", "me", [new("Form.Key", attackerKey)]))
        {
            Assert.Equal(HttpStatusCode.Redirect, look.StatusCode);
        }

        string planted = attacker.Cookie("quota.me")!;
        using var victim = new ConsoleClient(host.Admin.BaseAddress!);
        victim.SetCookie("quota.me", planted);
        using (HttpResponseMessage forget = await victim.PostFormAsync("/me", "forget", [])) // the victim sees a key that is not theirs and forgets it
        {
            Assert.Equal(HttpStatusCode.Redirect, forget.StatusCode);
        }

        using (HttpResponseMessage look = await victim.PostFormAsync("/me", "me", [new("Form.Key", victimKey)]))
        {
            Assert.Equal(HttpStatusCode.Redirect, look.StatusCode);
        }

        Assert.NotEqual(planted, victim.Cookie("quota.me"));
        Assert.Contains(victimKey[^4..], await victim.GetPageAsync("/me"), StringComparison.Ordinal);
        string attackerView = await attacker.GetPageAsync("/me");
        Assert.DoesNotContain(victimKey[^4..], attackerView, StringComparison.Ordinal);
        Assert.Contains("id=\"me-key\"", attackerView, StringComparison.Ordinal); // the planted session ended: the lookup form again
    }

    [Fact]
    public async Task WrongSignIns_AreLoggedWithTheAddress_AndThrottled_WhileAnotherAddressSignsIn()
    {
        using var data = new TempDirectory();
        var logs = new CapturedLogs();
        await using HostUnderTest host = await HostUnderTest.StartConfiguredAsync(data.Path, null, logs.AddTo, "--Security:FailedAuthLimit=3", "--Security:FailedAuthWindowSeconds=30");
        using var guesser = new ConsoleClient(host.Admin.BaseAddress!);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            using HttpResponseMessage wrong = await guesser.PostFormAsync("/signin", "signin", [new("Form.AdminKey", $"guess-{attempt}")]);
            Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        }

        using (HttpResponseMessage throttled = await guesser.GetAsync("/signin"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
            Assert.NotNull(throttled.Headers.RetryAfter?.Delta);
        }

        Assert.Contains(logs.Lines, line => line.Level == LogLevel.Warning && line.Message == "Console sign-in with a wrong admin key from 127.0.0.1");
        using var operatorElsewhere = new ConsoleClient(host.Admin.BaseAddress!, source: "127.0.0.2");
        await operatorElsewhere.SignInAsync();
        Assert.Equal(HttpStatusCode.OK, (await operatorElsewhere.GetAsync("/users")).StatusCode);
    }

    [Fact]
    public async Task WrongKeyLookups_OnTheKeyHolderPage_AreThrottled()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null, "--Security:FailedAuthLimit=3", "--Security:FailedAuthWindowSeconds=30");
        using var guesser = new ConsoleClient(host.Admin.BaseAddress!);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            using HttpResponseMessage wrong = await guesser.PostFormAsync("/me", "me", [new("Form.Key", $"sk-guess-{attempt}")]);
            Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await guesser.GetAsync("/me")).StatusCode);
    }

    [Fact]
    public async Task BehindAConfiguredProxy_CookiesAreSecure_AndTheThrottleCountsTheForwardedAddress()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null,
            "--Proxy:KnownProxies:0=127.0.0.1", "--Security:FailedAuthLimit=3", "--Security:FailedAuthWindowSeconds=30");
        // The proxy's side of the connection: plain HTTP from 127.0.0.1, the browser's scheme and address in headers. Cookies
        // are carried by hand: a cookie jar would not send a Secure cookie over this plain connection, as it should not.
        using var proxy = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = host.Admin.BaseAddress };
        Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string client, string? cookie = null, HttpContent? content = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = content };
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-For", client);
            if (cookie is not null)
            {
                request.Headers.Add("Cookie", cookie);
            }

            return proxy.SendAsync(request);
        }

        async Task<HttpResponseMessage> SignInAsync(string client, string adminKey)
        {
            using HttpResponseMessage form = await SendAsync(HttpMethod.Get, "/signin", client);
            string antiforgery = form.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("quota.antiforgery=", StringComparison.Ordinal));
            Assert.Contains("; secure", antiforgery, StringComparison.OrdinalIgnoreCase);
            string token = ConsoleClient.Token(await form.Content.ReadAsStringAsync());
            return await SendAsync(HttpMethod.Post, "/signin", client, antiforgery.Split(';')[0], new FormUrlEncodedContent(
                [new("_handler", "signin"), new("__RequestVerificationToken", token), new("Form.AdminKey", adminKey)]));
        }

        using (HttpResponseMessage signIn = await SignInAsync("203.0.113.7", HostUnderTest.AdminKey))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
            string cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("quota.console=", StringComparison.Ordinal));
            Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("/", signIn.Headers.Location!.OriginalString);
        }

        for (int attempt = 0; attempt < 4; attempt++)
        {
            using HttpResponseMessage wrong = await SignInAsync("203.0.113.7", $"guess-{attempt}");
            Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        }

        using (HttpResponseMessage throttled = await SendAsync(HttpMethod.Get, "/signin", "203.0.113.7"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
        }

        using HttpResponseMessage neighbour = await SendAsync(HttpMethod.Get, "/signin", "203.0.113.8"); // another browser behind the same proxy
        Assert.Equal(HttpStatusCode.OK, neighbour.StatusCode);
    }

    [Fact]
    public async Task WithoutAConfiguredProxy_ForwardedHeadersAreIgnored()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        client.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        using HttpResponseMessage signIn = await client.PostFormAsync("/signin", "signin", [new("Form.AdminKey", HostUnderTest.AdminKey)]);
        string cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("quota.console=", StringComparison.Ordinal));
        Assert.DoesNotContain("; secure", cookie, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Posts a sign-out form the way the layout renders it (the antiforgery token from a signed-in page).</summary>
    private static async Task PostSignOutAsync(ConsoleClient client, string action)
    {
        string token = ConsoleClient.Token(await client.GetPageAsync("/"));
        using HttpResponseMessage response = await client.Http.PostAsync(action, new FormUrlEncodedContent([new("__RequestVerificationToken", token)]));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }
}
