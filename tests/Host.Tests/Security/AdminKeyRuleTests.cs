using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Security;

/// <summary>
/// The host refuses to start with a weak admin key (docs/operations.md "Admin key"), takes one from a file
/// (<c>Quota:AdminKeyFile</c>), and logs where a key came from, never the key.
/// </summary>
public sealed class AdminKeyRuleTests
{
    [Theory]
    [InlineData("change-me-0123456789")] // the placeholder the docs used to show (20 characters: it started before)
    [InlineData("Zq8vK2mT9xLp4WcR")] // random, but 16 characters
    [InlineData("Zq8vK2mT9xLp4WcRy7Hd3Nf6Bs1Je5U")] // 31 characters
    [InlineData("change-me-Zq8vK2mT9xLp4WcRy7Hd3Nf6Bs1Je5U")] // long, but a placeholder
    [InlineData("abababababababababababababababababab")] // long, two different characters
    public async Task AWeakAdminKey_StopsTheHostAtStart_WithAMessageThatNamesTheSetting_NotTheKey(string weak)
    {
        using var data = new TempDirectory();
        Exception refused = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(data.Path, $"--Quota:AdminKey={weak}"));
        Assert.Contains("Quota:AdminKey is refused", refused.Message, StringComparison.Ordinal);
        Assert.Contains("at least 32 characters", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(weak, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminKeyFile_IsRead_AndTheLogNamesItsPath_NeverTheKey()
    {
        using var data = new TempDirectory();
        string key = "sk-admin-" + Guid.NewGuid().ToString("N");
        string file = Path.Combine(data.Path, "mounted.key");
        await File.WriteAllTextAsync(file, key + "\n");
        var logs = new CapturedLogs();
        WebApplication app = HostApp.Build(Args(data.Path, $"--Quota:AdminKeyFile={file}", "--Logging:LogLevel:Default=Information"), logs.AddTo);
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(HostUnderTest.BoundAddress(app)) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/tokens")).StatusCode);
            Assert.Contains($"Admin key read from {file}", logs.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(key, logs.Text, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task AWeakKeyInTheFile_AMissingFile_OrBothSettings_StopTheHostWithAClearMessage()
    {
        using var data = new TempDirectory();
        string weakFile = Path.Combine(data.Path, "weak.key");
        await File.WriteAllTextAsync(weakFile, "change-me-0123456789");
        Exception weak = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(data.Path, $"--Quota:AdminKeyFile={weakFile}"));
        Assert.Contains($"The admin key in {weakFile} is refused", weak.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("change-me-0123456789", weak.Message, StringComparison.Ordinal);

        string missing = Path.Combine(data.Path, "absent.key");
        Exception absent = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(data.Path, $"--Quota:AdminKeyFile={missing}"));
        Assert.Contains($"The admin key file {missing} cannot be read", absent.Message, StringComparison.Ordinal);

        Exception both = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(data.Path, $"--Quota:AdminKeyFile={weakFile}", $"--Quota:AdminKey={HostUnderTest.AdminKey}"));
        Assert.Contains("Quota:AdminKey and Quota:AdminKeyFile are both set", both.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AGeneratedAdminKey_IsWrittenToTheDataDirectory_AndNeverLogged()
    {
        using var data = new TempDirectory();
        var logs = new CapturedLogs();
        WebApplication app = HostApp.Build(["--urls", "http://127.0.0.1:0", $"--Quota:DataDir={data.Path}", "--Logging:LogLevel:Default=Information"], logs.AddTo);
        await app.StartAsync();
        await app.StopAsync();
        await app.DisposeAsync();

        string path = Path.Combine(data.Path, "admin.key");
        string key = (await File.ReadAllTextAsync(path)).Trim();
        Assert.StartsWith("sk-admin-", key, StringComparison.Ordinal);
        byte[] bytes = await File.ReadAllBytesAsync(path); // what `$(cat data/admin.key)` gives: the key's bytes, no BOM
        Assert.Equal("sk-admin-"u8.ToArray(), bytes[..9]);
        Assert.Contains(path, logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(key, logs.Text, StringComparison.Ordinal);
    }

    private static string[] Args(string dataDir, params string[] extra) =>
        ["--urls", "http://127.0.0.1:0", $"--Quota:DataDir={dataDir}", "--Logging:LogLevel:Default=Warning", .. extra];

    private static async Task StartAsync(string dataDir, params string[] extra)
    {
        WebApplication app = HostApp.Build(Args(dataDir, extra));
        try
        {
            await app.StartAsync();
            await app.StopAsync();
        }
        finally
        {
            await app.DisposeAsync();
        }
    }
}
