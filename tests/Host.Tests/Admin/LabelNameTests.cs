using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Admin;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Admin;

/// <summary>Key and user names: control characters and bidirectional overrides are refused with a 400 naming the field, and nothing is written.</summary>
public sealed class LabelNameTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    public static TheoryData<string> Forged => new()
    {
        "\u202Eyek-nimda", "a\u2066b", "nul\u0000", "line\nbreak", "del\u007F", "c1\u0085",
    };

    [Theory]
    [MemberData(nameof(Forged))]
    public async Task AKeyName_WithAControlOrBidiCharacter_Is400NamingName_AndNoKeyIsCreated(string name)
    {
        int user = await host.CreateUserAsync();
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/tokens", new { user_id = user, name, remain_quota = 10 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("name", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, (await host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Forged))]
    public async Task ARename_WithAControlOrBidiCharacter_Is400_AndTheNameStays(string name)
    {
        (int token, _) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), name = "ops", remain_quota = 10 });
        using HttpResponseMessage response = await host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { name, remain_quota = 99 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        JsonElement view = await host.GetJsonAsync($"/api/tokens/{token}");
        Assert.Equal(("ops", 10L), (view.GetProperty("name").GetString(), view.GetProperty("remain_quota").GetInt64()));
    }

    [Theory]
    [MemberData(nameof(Forged))]
    public async Task AUserName_WithAControlOrBidiCharacter_Is400NamingName(string name)
    {
        using HttpResponseMessage response = await host.Admin.PostAsJsonAsync("/api/users", new { name, quota = 10 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"name\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("客服 – 北京")]
    [InlineData("ops 🚀 (prod)")]
    [InlineData("עברית")] // right-to-left text itself is fine: only the overrides are refused
    public async Task OrdinaryUnicodeNames_AreKept(string name)
    {
        (int token, _) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), name, remain_quota = 10 });
        Assert.Equal(name, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("name").GetString());
    }

    [Fact]
    public void EveryRefusedCharacter_IsRefused_AndItsNeighboursAreNot()
    {
        foreach (char c in "\u0000\u001F\u007F\u0080\u009F\u202A\u202E\u2066\u2069")
        {
            Assert.NotNull(LabelNames.Problem("a" + c + "b"));
        }

        foreach (char c in " ~\u00A0\u2029\u202F\u2065\u206A")
        {
            Assert.Null(LabelNames.Problem("a" + c + "b"));
        }

        Assert.NotNull(LabelNames.Problem(new string('x', LabelNames.LengthMax + 1)));
        Assert.Throws<ArgumentException>(() => LabelNames.Require("\u202Eyek-nimda")); // the write functions refuse an unchecked name
    }
}
