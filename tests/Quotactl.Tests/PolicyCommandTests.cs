using System.Net;
using System.Text.Json;

namespace Quota.Ctl.Tests;

public sealed class PolicyCommandTests
{
    private static readonly object Chat = new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } };

    [Fact]
    public async Task PoliciesSet_ReplacesOnePosition_KeepingTheOthersAndTheirUsage()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        string key = (await run.RunAsync("keys", "create", "--user", "1", "--unlimited", "true", "--json")).Json.GetProperty("key").GetString()!;

        CtlResult daily = await run.RunAsync("policies", "set", "1", "--period", "daily", "--quota", "100", "--time-zone", "Asia/Tokyo");
        Assert.True(daily.ExitCode == 0, daily.ToString());
        Assert.Contains("Asia/Tokyo", daily.Stdout);
        using (HttpResponseMessage spent = await run.Host.ChatAsync(key, Chat))
        {
            Assert.Equal(HttpStatusCode.OK, spent.StatusCode);
        }

        CtlResult weekly = await run.RunAsync("policies", "set", "1", "--index", "1", "--period", "custom", "--custom-minutes", "90", "--quota", "500", "--json");
        Assert.True(weekly.ExitCode == 0, weekly.ToString());
        JsonElement[] policies = [.. weekly.Json.GetProperty("quota_policies").EnumerateArray()];
        Assert.Equal(2, policies.Length);
        Assert.Equal("daily", policies[0].GetProperty("period_mode").GetString());
        Assert.Equal("Asia/Tokyo", policies[0].GetProperty("time_zone").GetString());
        Assert.Equal(15, policies[0].GetProperty("used_quota").GetInt64()); // demo-per-call costs 15 units; usage carried over
        Assert.Equal(90, policies[1].GetProperty("custom_minutes").GetInt32());

        CtlResult tooFar = await run.RunAsync("policies", "set", "1", "--index", "3", "--period", "daily", "--quota", "1");
        Assert.Equal(2, tooFar.ExitCode);
        Assert.Contains("--index", tooFar.Stderr);

        CtlResult shown = await run.RunAsync("policies", "show", "1");
        Assert.Contains("custom 90m", shown.Stdout);
        Assert.Contains("NEXT RESET", shown.Stdout);
    }

    [Fact]
    public async Task PoliciesReset_ClearsTheWindow_RestoresAPausedKey_AndLogsIt()
    {
        await using QuotactlRun run = await QuotactlRun.StartAsync();
        await run.RunAsync("users", "create", "--quota", "10000000");
        string key = (await run.RunAsync("keys", "create", "--user", "1", "--remain-quota", "1000000", "--period", "daily", "--policy-quota", "20",
            "--exhausted-action", "disable_token", "--json")).Json.GetProperty("key").GetString()!;
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage _ = await run.Host.ChatAsync(key, Chat); // 15 + 15 > 20: the second exhausts and pauses
        }

        CtlResult paused = await run.RunAsync("keys", "list");
        Assert.Contains("quota_policy_disabled", paused.Stdout);

        CtlResult reset = await run.RunAsync("policies", "reset", "1", "--policy-id", "11", "--json");
        Assert.True(reset.ExitCode == 0, reset.ToString());
        Assert.Equal("enabled", reset.Json.GetProperty("display_status").GetString());
        Assert.Equal(0, reset.Json.GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64());

        CtlResult wrongPolicy = await run.RunAsync("policies", "reset", "1", "--policy-id", "99");
        Assert.Equal(1, wrongPolicy.ExitCode);
        Assert.Contains("policy_id", wrongPolicy.Stderr);

        CtlResult logs = await run.RunAsync("logs", "list", "--key", "1", "--action", "token.quota_policy.manual_reset");
        Assert.True(logs.ExitCode == 0, logs.ToString());
        Assert.Contains("token.quota_policy.manual_reset", logs.Stdout);
        Assert.Contains("1 of 1 rows.", logs.Stdout);
    }
}
