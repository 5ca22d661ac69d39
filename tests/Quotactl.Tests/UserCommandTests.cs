namespace Quota.Ctl.Tests;

public sealed class UserCommandTests
{
    [Fact]
    public async Task UsersCreate_PrintsTheNewUser_AndShowAndCreditReadTheSameWallet()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();

        CtlResult created = await run.RunAsync("users", "create", "--name", "alice", "--quota", "10000000");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("User 1 created.", created.Stdout);
        Assert.Contains("alice", created.Stdout);
        Assert.Contains("10,000,000", created.Stdout);

        CtlResult credited = await run.RunAsync("users", "credit", "1", "--delta", "-2500000", "--json");
        Assert.True(credited.ExitCode == 0, credited.ToString());
        Assert.Equal(7_500_000, credited.Json.GetProperty("quota").GetInt64());

        CtlResult shown = await run.RunAsync("users", "show", "1", "--json");
        Assert.Equal(7_500_000, shown.Json.GetProperty("quota").GetInt64());
        Assert.Equal("alice", shown.Json.GetProperty("name").GetString());
    }

    [Fact]
    public async Task UsersCreateAndUpdate_SetThePriceGroup_AnUnknownOneExitsOneNamingGroup()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync("--Pricing:Groups:gold:MultiplierPerMille=1500");

        CtlResult created = await run.RunAsync("users", "create", "--name", "alice", "--quota", "100", "--group", "gold");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("gold", created.Stdout);

        CtlResult unknown = await run.RunAsync("users", "update", "1", "--group", "platinum");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("400 invalid_request: group:", unknown.Stderr);

        CtlResult updated = await run.RunAsync("users", "update", "1", "--group", "default", "--name", "alice-b", "--json");
        Assert.True(updated.ExitCode == 0, updated.ToString());
        Assert.Equal(("alice-b", "default"), (updated.Json.GetProperty("name").GetString(), updated.Json.GetProperty("group").GetString()));
        Assert.Equal("default", (await run.Host.GetJsonAsync("/api/users/1")).GetProperty("group").GetString());
    }

    [Fact]
    public async Task UsersCredit_BelowZero_ExitsOne_WithTheProblemDetailNamingTheField()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "100");

        CtlResult debit = await run.RunAsync("users", "credit", "1", "--delta", "-101");
        Assert.Equal(1, debit.ExitCode);
        Assert.Contains("400 invalid_request: delta:", debit.Stderr);

        CtlResult asJson = await run.RunAsync("users", "credit", "1", "--delta", "-101", "--json");
        Assert.Equal(1, asJson.ExitCode);
        Assert.Equal("delta", asJson.Json.GetProperty("field").GetString()); // the problem document, for scripts
        Assert.Equal(100, (await run.Host.GetJsonAsync("/api/users/1")).GetProperty("quota").GetInt64());
    }

    [Fact]
    public async Task UsersShow_UnknownUser_ExitsOne_WithNotFound()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();

        CtlResult missing = await run.RunAsync("users", "show", "42");

        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not_found: user 42", missing.Stderr);
        Assert.Equal("", missing.Stdout);
    }
}
