using Quota.Host.Tests.Support;

namespace Quota.Ctl.Tests;

public sealed class UsageAndConnectionTests
{
    [Theory]
    [InlineData("users", "frobnicate")]
    [InlineData("users", "create")] // --quota is required
    [InlineData("users", "show", "not-a-number")]
    [InlineData("keys", "list", "--status", "sleepy")]
    [InlineData()]
    public async Task ABadCommandLine_ExitsTwo_WithoutCallingTheHost(params string[] args)
    {
        CtlResult result = await QuotactlRun.RunRawAsync(["--url", "http://127.0.0.1:1", "--admin-key-file", "/nonexistent", .. args]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("error:", result.Stderr);
        Assert.DoesNotContain("cannot reach", result.Stderr);
    }

    [Fact]
    public async Task ABadUrl_ExitsTwo_NamingTheOption()
    {
        CtlResult result = await QuotactlRun.RunRawAsync(["--url", "ftp://example", "users", "show", "1"], _ => "key");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--url", result.Stderr);
    }

    [Fact]
    public async Task AMissingAdminKeyFile_ExitsTwo_NamingTheFileAndTheVariable()
    {
        CtlResult result = await QuotactlRun.RunRawAsync(["--admin-key-file", "/nonexistent/admin.key", "users", "show", "1"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("/nonexistent/admin.key", result.Stderr);
        Assert.Contains("QUOTA_ADMIN_KEY", result.Stderr);
    }

    [Fact]
    public async Task TheAdminKey_ComesFromTheEnvironment_WhenNoFileIsGiven_AndAWrongOneExitsOne()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();

        CtlResult withVariable = await QuotactlRun.RunRawAsync(["--url", run.Url, "users", "create", "--quota", "5"],
            name => name == "QUOTA_ADMIN_KEY" ? HostUnderTest.AdminKey : null);
        Assert.True(withVariable.ExitCode == 0, withVariable.ToString());

        CtlResult wrong = await QuotactlRun.RunRawAsync(["--url", run.Url, "users", "show", "1"], name => name == "QUOTA_ADMIN_KEY" ? "wrong" : null);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("401 unauthorized", wrong.Stderr);
    }

    [Fact]
    public async Task AnUnreachableHost_ExitsOne_SayingSo()
    {
        CtlResult result = await QuotactlRun.RunRawAsync(["--url", "http://127.0.0.1:1", "users", "show", "1"], _ => "key");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot reach http://127.0.0.1:1/", result.Stderr);
    }
}
