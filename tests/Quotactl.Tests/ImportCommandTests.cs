using System.Text.Json;

namespace Quota.Ctl.Tests;

public sealed class ImportCommandTests
{
    [Fact]
    public async Task Import_ACsvWithBadRows_ImportsTheRest_AndReportsEachBadRowsLineAndField()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        string csv = Path.Combine(run.Directory, "keys.csv");
        File.WriteAllText(csv, string.Join("\n",
            "user_id,name,remain_quota,period_mode,quota,time_zone,exhausted_action",
            "1,alpha,1000,daily,100,Europe/Berlin,disable_token",
            ",,,weekly,500,,",                            // line 3: a second policy for alpha
            "1,\"beta, the second\",lots,daily,100,,",    // line 4: not a number (found before sending)
            "1,gamma,2000,daily,100,,",
            ",,,monthly,900,Mars/Olympus,",               // line 6: the host refuses gamma's second policy's zone
            "1,delta,,,,,",
            "") + "\r\n");

        CtlResult imported = await run.RunAsync("import", csv);

        Assert.True(imported.ExitCode == 1, imported.ToString());
        Assert.Contains("line 4, field remain_quota: 'lots' is not a whole number", imported.Stderr);
        Assert.Contains("line 6, field time_zone:", imported.Stderr);
        Assert.Contains("Imported 2 of 4 keys; 2 failed.", imported.Stdout);
        Assert.Contains("Importing keys", imported.Stderr); // the progress bar (plain text when not a terminal)
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Count(imported.Stdout, @"sk-[A-Za-z0-9_\-]{20,}"));

        JsonElement tokens = await run.Host.GetJsonAsync("/api/tokens");
        JsonElement[] items = [.. tokens.GetProperty("items").EnumerateArray()];
        Assert.Equal(["alpha", "delta"], items.Select(t => t.GetProperty("name").GetString()));
        JsonElement[] alphaPolicies = [.. items[0].GetProperty("quota_policies").EnumerateArray()];
        Assert.Equal(["daily", "weekly"], alphaPolicies.Select(p => p.GetProperty("period_mode").GetString()));
        Assert.Equal("Europe/Berlin", alphaPolicies[0].GetProperty("time_zone").GetString());
        Assert.Empty(items[1].GetProperty("quota_policies").EnumerateArray());
    }

    [Fact]
    public async Task Import_Json_ReportsCreatedKeysAndErrors()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        string csv = Path.Combine(run.Directory, "keys.csv");
        File.WriteAllText(csv, "user_id,name,status\n1,on,enabled\n7,nobody,\n1,off,disabled\n1,odd,sleeping\n");

        CtlResult imported = await run.RunAsync("import", csv, "--json");

        Assert.Equal(1, imported.ExitCode);
        JsonElement[] created = [.. imported.Json.GetProperty("created").EnumerateArray()];
        Assert.Equal([2, 4], created.Select(c => c.GetProperty("line").GetInt32()));
        Assert.StartsWith("sk-", created[0].GetProperty("token").GetProperty("key").GetString());
        Assert.Equal("disabled", created[1].GetProperty("token").GetProperty("display_status").GetString());
        JsonElement[] errors = [.. imported.Json.GetProperty("errors").EnumerateArray()];
        Assert.Equal([3, 5], errors.Select(e => e.GetProperty("line").GetInt32()));
        Assert.Equal(["user_id", "status"], errors.Select(e => e.GetProperty("field").GetString()));
    }

    [Fact]
    public async Task Import_DryRun_ChecksWithoutCreating()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        string csv = Path.Combine(run.Directory, "keys.csv");
        File.WriteAllText(csv, "user_id,unlimited_quota\n1,maybe\n1,true\n");

        CtlResult checkedOnly = await run.RunAsync("import", csv, "--dry-run");

        Assert.Equal(1, checkedOnly.ExitCode);
        Assert.Contains("line 2, field unlimited_quota", checkedOnly.Stderr);
        Assert.Contains("Checked 2 keys: 1 valid, 1 with errors", checkedOnly.Stdout);
        Assert.Equal(0, (await run.Host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt64());
    }

    [Theory]
    [InlineData("name,remain_quota\nx,1\n", "user_id")]        // no user_id column
    [InlineData("user_id,colour\n1,red\n", "unknown: colour")]
    [InlineData("", "empty")]
    [InlineData("user_id,name\n1,\"unclosed\n", "not closed")]
    public async Task Import_AFileThatCannotBeRead_ExitsTwo_AndImportsNothing(string content, string message)
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        string csv = Path.Combine(run.Directory, "keys.csv");
        File.WriteAllText(csv, content);

        CtlResult result = await run.RunAsync("import", csv);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.Equal(0, (await run.Host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt64());
    }
}
