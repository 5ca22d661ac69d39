using Microsoft.AspNetCore.Builder;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Security;

/// <summary>A bad value of the security settings stops the start with a message naming the setting (docs/operations.md "Configuration").</summary>
public sealed class SecuritySettingsTests
{
    [Theory]
    [InlineData("--Proxy:KnownProxies:0=proxy.example", "Proxy:KnownProxies")]
    [InlineData("--Proxy:KnownNetworks:0=10.0.0.0/33", "Proxy:KnownNetworks")]
    [InlineData("--Security:FailedAuthLimit=0", "Security:FailedAuthLimit")]
    [InlineData("--Security:FailedAuthWindowSeconds=61", "Security:FailedAuthWindowSeconds")]
    [InlineData("--Console:SessionIdleMinutes=0", "Console:SessionIdleMinutes")]
    [InlineData("--Console:SessionLifetimeHours=721", "Console:SessionLifetimeHours")]
    public async Task ABadSetting_StopsTheStart_NamingIt(string argument, string setting)
    {
        using var data = new TempDirectory();
        Exception refused = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            WebApplication app = HostApp.Build(["--urls", "http://127.0.0.1:0", $"--Quota:DataDir={data.Path}", $"--Quota:AdminKey={HostUnderTest.AdminKey}", argument]);
            try
            {
                await app.StartAsync();
                await app.StopAsync();
            }
            finally
            {
                await app.DisposeAsync();
            }
        });
        Assert.Contains(setting, refused.Message, StringComparison.Ordinal);
    }
}
