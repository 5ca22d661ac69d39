using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Quota.Ctl.Tests;

public sealed partial class KeyCommandTests
{
    [GeneratedRegex(@"sk-[A-Za-z0-9_\-]{20,}")]
    private static partial Regex FullKey();

    [Fact]
    public async Task KeysCreate_ShowsTheFullKeyOnce_AndTheKeyWorksOnTheRelay()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");

        CtlResult created = await run.RunAsync("keys", "create", "--user", "1", "--name", "ci", "--remain-quota", "1000000",
            "--period", "daily", "--policy-quota", "100", "--time-zone", "Europe/Berlin", "--exhausted-action", "disable_token");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("shown only this once", created.Stdout);
        string key = FullKey().Match(created.Stdout).Value;
        Assert.NotEmpty(key);
        Assert.Contains("daily 0/100", created.Stdout);

        using HttpResponseMessage relayed = await run.Host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.OK, relayed.StatusCode);

        foreach (string[] read in new[] { new[] { "keys", "show", "1" }, ["keys", "list"], ["keys", "list", "--json"], ["keys", "show", "1", "--json"] })
        {
            CtlResult again = await run.RunAsync(read);
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.DoesNotContain(key, again.Stdout);
            Assert.Contains(key[..5], again.Stdout); // the preview only
        }
    }

    [Fact]
    public async Task KeysList_IsATableWithTheDerivedStatus_AndFiltersByIt()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        await run.RunAsync("keys", "create", "--user", "1", "--name", "kept-on", "--remain-quota", "1000");
        await run.RunAsync("keys", "create", "--user", "1", "--name", "switched-off", "--remain-quota", "1000");
        CtlResult disabled = await run.RunAsync("keys", "disable", "2");
        Assert.True(disabled.ExitCode == 0, disabled.ToString());

        CtlResult table = await run.RunAsync("keys", "list");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("STATUS", table.Stdout);
        Assert.True(Regex.IsMatch(table.Stdout, @"kept-on\s.*\senabled\s"), table.Stdout);
        Assert.True(Regex.IsMatch(table.Stdout, @"switched-off\s.*\sdisabled\s"), table.Stdout);
        Assert.Contains("2 of 2 keys.", table.Stdout);

        CtlResult onlyDisabled = await run.RunAsync("keys", "list", "--status", "disabled", "--json");
        JsonElement items = onlyDisabled.Json.GetProperty("items");
        Assert.Equal(1, items.GetArrayLength());
        Assert.Equal("disabled", items[0].GetProperty("display_status").GetString());
        Assert.Equal(1, onlyDisabled.Json.GetProperty("total").GetInt64());

        CtlResult enabled = await run.RunAsync("keys", "enable", "2", "--json");
        Assert.Equal("enabled", enabled.Json.GetProperty("display_status").GetString());
    }

    [Fact]
    public async Task KeysList_All_ReadsEveryPage()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        for (int i = 0; i < 5; i++)
        {
            await run.RunAsync("keys", "create", "--user", "1");
        }

        CtlResult onePage = await run.RunAsync("keys", "list", "--size", "2", "--json");
        Assert.Equal(2, onePage.Json.GetProperty("items").GetArrayLength());

        CtlResult all = await run.RunAsync("keys", "list", "--all", "--json");
        Assert.Equal(5, all.Json.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task KeysUpdateAndDelete_ChangeOnlyWhatWasGiven_AndJsonIsParseable()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        await run.RunAsync("keys", "create", "--user", "1", "--name", "before", "--remain-quota", "500", "--period", "weekly", "--policy-quota", "40");

        CtlResult updated = await run.RunAsync("keys", "update", "1", "--name", "after", "--json");
        Assert.True(updated.ExitCode == 0, updated.ToString());
        Assert.Equal("after", updated.Json.GetProperty("name").GetString());
        Assert.Equal(500, updated.Json.GetProperty("remain_quota").GetInt64());
        Assert.Equal("weekly", updated.Json.GetProperty("quota_policies")[0].GetProperty("period_mode").GetString());

        CtlResult nothing = await run.RunAsync("keys", "update", "1");
        Assert.Equal(2, nothing.ExitCode);

        CtlResult badBudget = await run.RunAsync("keys", "update", "1", "--remain-quota", "-5");
        Assert.Equal(1, badBudget.ExitCode);
        Assert.Contains("remain_quota", badBudget.Stderr);

        CtlResult deleted = await run.RunAsync("keys", "delete", "1", "--json");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.True(deleted.Json.GetProperty("deleted").GetBoolean());

        CtlResult gone = await run.RunAsync("keys", "show", "1");
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains("404", gone.Stderr);
    }

    [Fact]
    public async Task KeysCreate_WithAnInvalidPolicy_ExitsOne_NamingThePolicyField_AndCreatesNothing()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");

        CtlResult bad = await run.RunAsync("keys", "create", "--user", "1", "--period", "daily", "--policy-quota", "100", "--time-zone", "Mars/Olympus");

        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("quota_policy.time_zone", bad.Stderr);
        Assert.Equal(0, (await run.Host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt64());
    }
}
