using System.Net;
using System.Text.RegularExpressions;

namespace Quota.Host.Tests.Support;

/// <summary>
/// A browser-less console client: its own cookie jar, no automatic redirects, and form posts that carry the
/// antiforgery token and form name scraped from the page that renders the form (as a browser would).
/// </summary>
internal sealed partial class ConsoleClient : IDisposable
{
    private readonly HttpClient http;

    /// <param name="source">The loopback address to connect from (127.0.0.2: another client, as the host sees it); default 127.0.0.1.</param>
    public ConsoleClient(Uri baseAddress, string? source = null)
    {
        Cookies = new CookieContainer();
        http = source is null
            ? new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = baseAddress }
            : SourceAddress.Client(baseAddress, source, redirects: false, cookies: Cookies);
    }

    public CookieContainer Cookies { get; }

    public HttpClient Http => http;

    public Task<HttpResponseMessage> GetAsync(string path) => http.GetAsync(path);

    /// <summary>The value of one of this client's cookies, or null.</summary>
    public string? Cookie(string name) => Cookies.GetCookies(http.BaseAddress!)[name]?.Value;

    /// <summary>Puts a cookie in this client's jar (a cookie copied from another browser, or planted).</summary>
    public void SetCookie(string name, string value) => Cookies.Add(http.BaseAddress!, new Cookie(name, value, "/"));

    public async Task<string> GetPageAsync(string path)
    {
        using HttpResponseMessage response = await http.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {response.Headers.Location}");
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Posts a form the way the page at <paramref name="path"/> renders it (its antiforgery token unless told not to).</summary>
    public async Task<HttpResponseMessage> PostFormAsync(string path, string formName, IEnumerable<KeyValuePair<string, string>> fields, bool withToken = true)
    {
        var values = new List<KeyValuePair<string, string>>(fields) { new("_handler", formName) };
        if (withToken)
        {
            string page = await GetPageAsync(path);
            values.Add(new("__RequestVerificationToken", Token(page)));
        }

        return await http.PostAsync(path, new FormUrlEncodedContent(values));
    }

    public async Task SignInAsync(string adminKey = HostUnderTest.AdminKey)
    {
        using HttpResponseMessage response = await PostFormAsync("/signin", "signin", [new("Form.AdminKey", adminKey), new("Form.TimeZone", "Europe/Berlin")]);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    public static string Token(string page) => TokenPattern().Match(page) is { Success: true } match ? match.Groups[1].Value : throw new InvalidOperationException("no antiforgery token on the page");

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();

    public void Dispose() => http.Dispose();
}
