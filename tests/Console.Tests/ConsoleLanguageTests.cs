using System.Net;
using System.Text.Json;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The console over HTTP in each language: Accept-Language picks it, and number fields read its grouping.</summary>
public sealed class ConsoleLanguageTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Theory]
    [InlineData("fr-FR,fr;q=0.9,en;q=0.8", "fr", "Connexion")]
    [InlineData("ja-JP,ja;q=0.9", "ja", "サインイン")]
    [InlineData("ru-RU,ru;q=0.9", "ru", "Вход")]
    [InlineData("vi-VN,vi;q=0.9,en;q=0.5", "vi", "Đăng nhập")]
    [InlineData("de-DE,ru;q=0.5", "ru", "Вход")]
    [InlineData("zh-HK", "zh-TW", "登入")]
    public async Task TheSignInPage_SpeaksTheReadersLanguage(string acceptLanguage, string language, string title)
    {
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/signin");
        request.Headers.TryAddWithoutValidation("Accept-Language", acceptLanguage);
        using HttpResponseMessage response = await client.Http.SendAsync(request);
        string page = await response.Content.ReadAsStringAsync();

        Assert.Contains($"<html lang=\"{language}\">", page, StringComparison.Ordinal);
        Assert.Contains($"<h1>{title}</h1>", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fr", "5 000 000")]           // what a keyboard types
    [InlineData("fr", "5\u202F000\u202F000")] // what the console shows (a narrow no-break space), pasted back
    [InlineData("ru", "5 000 000")]
    [InlineData("ru", "5\u00A0000\u00A0000")]
    [InlineData("vi", "5.000.000")]
    [InlineData("ja", "5,000,000")]
    public async Task TheWalletField_ReadsTheLanguagesGrouping(string language, string typed)
    {
        using var client = await SignedInAsync(language);
        using HttpResponseMessage response = await client.PostFormAsync("/users", "new-user", [new("Form.Name", "grouped"), new("Form.Quota", typed)]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        JsonElement user = await host.GetJsonAsync("/api/users/1");
        Assert.Equal(5_000_000, user.GetProperty("quota").GetInt64());
    }

    [Fact]
    public async Task AnEnglishGroupingInFrench_IsRefusedAtItsField_InFrench_AndCreatesNothing()
    {
        using var client = await SignedInAsync("fr");
        using HttpResponseMessage response = await client.PostFormAsync("/users", "new-user", [new("Form.Name", "grouped"), new("Form.Quota", "5,000,000")]);
        string page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("id=\"user-quota-err\"", page, StringComparison.Ordinal);
        Assert.Contains("pas un nombre entier", page, StringComparison.Ordinal);
        using HttpResponseMessage none = await host.Admin.GetAsync("/api/users/1");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
    }

    private async Task<ConsoleClient> SignedInAsync(string language)
    {
        Assert.Contains(language, Languages.Names);
        var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        using HttpResponseMessage chosen = await client.GetAsync($"/culture?name={language}&returnUrl=%2Fusers");
        Assert.Equal(HttpStatusCode.Redirect, chosen.StatusCode);
        return client;
    }
}
