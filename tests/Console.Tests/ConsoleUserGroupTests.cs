using System.Net;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>A user's price group in the console: set by the new-user form, shown on the user's page, changed there.</summary>
public sealed class ConsoleUserGroupTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() =>
        host = await HostUnderTest.StartAsync(data.Path, null, null, "--Pricing:Groups:gold:MultiplierPerMille=1500");

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task TheNewUserForm_SetsTheGroup_TheUsersPageShowsItAndChangesIt_AnUnknownGroupChangesNothing()
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        Assert.Contains("<option value=\"gold\"", await client.GetPageAsync("/users"), StringComparison.Ordinal);

        using (HttpResponseMessage created = await client.PostFormAsync("/users", "new-user", [new("Form.Name", "alice"), new("Form.Quota", "100"), new("Form.Group", "gold")]))
        {
            Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
            Assert.Equal("/users/1?done=created", new Uri(host.Admin.BaseAddress!, created.Headers.Location!).PathAndQuery);
        }

        Assert.Equal("gold", (await host.GetJsonAsync("/api/users/1")).GetProperty("group").GetString());
        Assert.Matches("data-field=\"group\">gold · 1,500‰<", await client.GetPageAsync("/users/1"));

        using (HttpResponseMessage unknown = await client.PostFormAsync("/users/1", "regroup", [new("GroupForm.Group", "platinum")]))
        {
            Assert.Equal(HttpStatusCode.OK, unknown.StatusCode); // the page again, with the field's error
            Assert.Contains("id=\"group-err\"", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal("gold", (await host.GetJsonAsync("/api/users/1")).GetProperty("group").GetString());
        using (HttpResponseMessage moved = await client.PostFormAsync("/users/1", "regroup", [new("GroupForm.Group", "default")]))
        {
            Assert.Equal(HttpStatusCode.Redirect, moved.StatusCode);
        }

        Assert.Equal("default", (await host.GetJsonAsync("/api/users/1")).GetProperty("group").GetString());
        Assert.Matches("data-field=\"group\">default · 1,000‰<", await client.GetPageAsync("/users/1?done=regrouped"));

        using (HttpResponseMessage refused = await client.PostFormAsync("/users", "new-user", [new("Form.Name", "bob"), new("Form.Quota", "100"), new("Form.Group", "platinum")]))
        {
            Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
            Assert.Contains("id=\"user-group-err\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await host.Admin.GetAsync("/api/users/2")).StatusCode);
    }
}
