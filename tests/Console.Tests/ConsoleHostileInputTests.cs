using System.Net;
using System.Text.RegularExpressions;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// Addresses and names an attacker writes: a return address with control or non-ASCII characters, a notice's text in
/// the address, names with control characters or bidirectional overrides (refused by the console's forms as by the API).
/// </summary>
public sealed class ConsoleHostileInputTests : IAsyncLifetime
{
    private const string ForgedName = "\u202Eyek-nimda"; // displays as "admin-key"
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Theory]
    [InlineData("%2F%09%2Fevil.example")] // "/\t/evil.example": a browser drops the tab and goes to //evil.example
    [InlineData("%2F%0A%2Fevil.example")]
    [InlineData("%2F%0D%0ASet-Cookie:%20x=1")]
    [InlineData("%2Fcaf%C3%A9")]
    [InlineData("%2F%20%2Fevil.example")]
    public async Task TheCultureSwitch_WithAReturnAddressOfControlOrNonAsciiCharacters_GoesHome_NeverA500(string returnUrl)
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using HttpResponseMessage response = await client.GetAsync($"/culture?name=en&returnUrl={returnUrl}");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task TheKeysPage_NeverPrintsTheDeletedNoticeFromItsAddress_ItLooksTheDeletedKeyUp()
    {
        int user = await host.CreateUserAsync();
        (int token, _) = await host.CreateTokenAsync(new { user_id = user, name = "to-be-deleted", remain_quota = 10 });
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();

        string forged = await client.GetPageAsync("/keys?deleted=" + Uri.EscapeDataString("Your account is locked, call +1-555-0100"));
        Assert.DoesNotContain("call +1-555-0100", forged, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"notice\"", await client.GetPageAsync($"/keys?deleted={token}"), StringComparison.Ordinal); // still there: nothing was deleted

        using HttpResponseMessage deleted = await client.PostFormAsync($"/keys/{token}?confirm=delete", "confirm", [new("Action.Name", "delete")]);
        Assert.Equal(HttpStatusCode.Redirect, deleted.StatusCode);
        string location = new Uri(host.Admin.BaseAddress!, deleted.Headers.Location!).PathAndQuery;
        Assert.Equal($"/keys?deleted={token}", location);
        string page = await client.GetPageAsync(location);
        Assert.Matches("class=\"notice\"[^>]*>[^<]*to-be-deleted", page);
    }

    [Fact]
    public async Task TheKeyForm_RefusesANameWithABidiOverride_AtItsField_AndCreatesNothing()
    {
        int user = await host.CreateUserAsync();
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        using HttpResponseMessage response = await client.PostFormAsync("/keys/new", "key",
            [new("Form.Name", ForgedName), new("Form.UserId", user.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("Form.RemainQuota", "100")]);
        string html = await response.Content.ReadAsStringAsync();
        Assert.True(html.Contains("id=\"name-err\"", StringComparison.Ordinal), html);
        Assert.DoesNotContain("new-key", html, StringComparison.Ordinal);
        Assert.Equal(0, (await host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("ali\u0007ce")]
    [InlineData("\u202Eyek-nimda")]
    [InlineData("a\u2066b")]
    public async Task TheUserForm_RefusesANameWithAControlOrBidiCharacter_AtItsField_AndCreatesNothing(string name)
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        using HttpResponseMessage response = await client.PostFormAsync("/users", "new-user", [new("Form.Name", name), new("Form.Quota", "100")]);
        string html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {html}");
        Assert.True(html.Contains("id=\"user-name-err\"", StringComparison.Ordinal), html);
        Assert.Equal(0, Regex.Count(await client.GetPageAsync("/users"), "href=\"/users/\\d+\""));
    }

    [Fact]
    public async Task TheUserForm_WithANul_IsRefused_NeverA500_AndCreatesNothing()
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        using HttpResponseMessage response = await client.PostFormAsync("/users", "new-user", [new("Form.Name", "ali\u0000ce"), new("Form.Quota", "100")]);
        Assert.True((int)response.StatusCode is 200 or 400, $"{(int)response.StatusCode}");
        Assert.Equal(0, Regex.Count(await client.GetPageAsync("/users"), "href=\"/users/\\d+\""));
    }
}
