using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// The dashboard (src/Host/Console/Dashboard): its numbers against sums over <c>/api/logs</c> after real relay traffic,
/// before and after a restart; its CSV behind the sign-in; refusals recorded and explained (the log and <c>/me</c>).
/// </summary>
public sealed class DashboardTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private UpstreamUnderTest upstream = default!;
    private HostUnderTest host = default!;

    public async Task InitializeAsync()
    {
        upstream = await UpstreamUnderTest.StartAsync();
        host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await upstream.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task TheDashboardsNumbers_EqualTheLogsSums_AndStillDoAfterARestart()
    {
        int alice = await host.CreateUserAsync(), bob = await host.CreateUserAsync();
        (int big, string bigKey) = await host.CreateTokenAsync(new { user_id = alice, name = "big-spender", remain_quota = 10_000_000 });
        (int small, string smallKey) = await host.CreateTokenAsync(new { user_id = bob, name = "small-spender", remain_quota = 10_000_000 });
        (int limited, string limitedKey) = await host.CreateTokenAsync(new
        {
            user_id = bob, name = "limited", remain_quota = 10_000_000,
            quota_policy = new { period_mode = "daily", quota = 2, metric = "requests" },
        });
        foreach ((string key, string model, int calls) in new[] { (bigKey, "gpt-4o", 4), (bigKey, "demo-per-call", 3), (smallKey, "gpt-4o-mini", 2), (limitedKey, "demo-per-call", 5) })
        {
            for (int call = 0; call < calls; call++)
            {
                using HttpResponseMessage response = await host.ChatAsync(key, new { model, messages = new[] { new { role = "user", content = $"hello number {call}" } } });
                await response.Content.ReadAsStringAsync();
            }
        }

        List<JsonElement> consumed = await LogsAsync("type=consume", 11);
        List<JsonElement> refused = await LogsAsync("action=request.refused", 3); // the limited key's 3rd, 4th and 5th
        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        await AssertMatchesAsync(client, consumed, refused, big, limited);

        // The counters live with the rows in the data directory: a new host reads them back.
        await host.DisposeAsync();
        host = await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl);
        using var again = new ConsoleClient(host.Admin.BaseAddress!);
        await again.SignInAsync();
        await AssertMatchesAsync(again, consumed, refused, big, limited);
        Assert.Contains($"data-key-id=\"{limited}\"", await again.GetPageAsync("/"), StringComparison.Ordinal); // 100 % of its window: near exhaustion
        Assert.Contains(small, (await CsvAsync(again, "top-keys")).Skip(1).Select(r => int.Parse(r[0])));
    }

    private static async Task AssertMatchesAsync(ConsoleClient client, List<JsonElement> consumed, List<JsonElement> refused, int big, int limited)
    {
        // Per model: requests, spend and tokens, as the CSV of the usage charts has them.
        var expected = consumed.GroupBy(r => r.GetProperty("model").GetString()!).ToDictionary(g => g.Key, g => (
            Requests: (long)g.Count(),
            Units: g.Sum(r => r.GetProperty("quota").GetInt64()),
            Tokens: g.Sum(r => r.GetProperty("prompt_tokens").GetInt64() + r.GetProperty("completion_tokens").GetInt64())));
        // The counters reach memory just after their rows' commit (which /api/logs sees): wait for that moment.
        List<string[]> usage = await CsvAsync(client, "usage");
        for (int attempt = 0; attempt < 100 && usage.Skip(1).Sum(r => long.Parse(r[2])) < consumed.Count; attempt++)
        {
            await Task.Delay(50);
            usage = await CsvAsync(client, "usage");
        }

        var actual = new Dictionary<string, (long Requests, long Units, long Tokens)>();
        foreach (string[] row in usage.Skip(1))
        {
            (long requests, long units, long tokens) = actual.GetValueOrDefault(row[1]);
            actual[row[1]] = (requests + long.Parse(row[2]), units + long.Parse(row[3]), tokens + long.Parse(row[4]));
        }

        Assert.Equal(expected.OrderBy(p => p.Key), actual.OrderBy(p => p.Key));
        Assert.True(expected.Values.All(v => v.Units > 0 && v.Tokens > 0), "every model charged and counted tokens");

        // Top keys over the last 24 hours: the big spender first, with the sum of its rows.
        List<string[]> topKeys = await CsvAsync(client, "top-keys");
        Assert.Equal(big.ToString(), topKeys[1][0]);
        Assert.Equal(consumed.Where(r => r.GetProperty("token_id").GetInt32() == big).Sum(r => r.GetProperty("quota").GetInt64()), long.Parse(topKeys[1][2]));
        Assert.Equal(consumed.Where(r => r.GetProperty("token_id").GetInt32() == limited).Count(), (int)long.Parse(topKeys.Single(r => r[0] == limited.ToString())[3]));

        // Refusals by reason and policy.
        List<string[]> refusals = await CsvAsync(client, "refusals");
        string[] byPolicy = refusals.SkipWhile(r => r[0] != "reason").Skip(1).Single();
        Assert.Equal(["PolicyExhausted", "0", "Daily", refused.Count.ToString(), refused.Count.ToString()], byPolicy);
        Assert.All(refused, r => Assert.Equal("PolicyExhausted", r.GetProperty("params").GetProperty("reason").GetString()));

        // The page shows the same numbers.
        string page = await client.GetPageAsync("/");
        string bigRow = Regex.Match(page, $"<tr data-id=\"{big}\">.*?</tr>", RegexOptions.Singleline).Value;
        Assert.Contains($"data-field=\"units\">{long.Parse(topKeys[1][2]):N0}<", bigRow, StringComparison.Ordinal);
        Assert.Matches($"<tr data-reason=\"PolicyExhausted\" data-policy=\"0\">.*?data-field=\"window\">{refused.Count}<", page.Replace("\n", "", StringComparison.Ordinal));
        Assert.Contains("role=\"img\"", page, StringComparison.Ordinal);
        Assert.Contains("<title>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCsv_NeedsTheConsolesSignIn_AndNamesABadChart()
    {
        using var anonymous = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage signedOut = await anonymous.GetAsync("/dashboard.csv?chart=usage"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
            Assert.StartsWith("/signin", signedOut.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        using (var bearer = new HttpRequestMessage(HttpMethod.Get, "/dashboard.csv?chart=usage"))
        {
            bearer.Headers.Authorization = new("Bearer", HostUnderTest.AdminKey); // the API's key is not the console's session
            using HttpResponseMessage response = await anonymous.Http.SendAsync(bearer);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        }

        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        foreach ((string query, string field) in new[] { ("chart=nope", "chart"), ("", "chart"), ("chart=usage&by=colour", "by") })
        {
            using HttpResponseMessage bad = await client.GetAsync("/dashboard.csv?" + query);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.StartsWith(field + ":", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (string chart in new[] { "usage", "top-keys", "top-users", "refusals", "near-exhaustion", "paused" })
        {
            using HttpResponseMessage csv = await client.GetAsync($"/dashboard.csv?chart={chart}&by=provider");
            Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
            Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
            Assert.Contains($"dashboard-{chart}.csv", csv.Content.Headers.ContentDisposition!.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task APolicysRefusal_IsExplained_InTheLog_AndOnTheKeyHoldersPage()
    {
        int user = await host.CreateUserAsync();
        (int id, string key) = await host.CreateTokenAsync(new
        {
            user_id = user, name = "one-a-day", remain_quota = 1_000_000,
            quota_policy = new { period_mode = "daily", quota = 1, metric = "requests" },
        });
        using (HttpResponseMessage first = await host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (HttpResponseMessage second = await host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        }

        long nextReset = (await host.GetJsonAsync($"/api/tokens/{id}")).GetProperty("quota_policies")[0].GetProperty("next_reset_at").GetInt64();
        JsonElement refusal = (await LogsAsync($"token_id={id}&action=request.refused", 1)).Single();
        JsonElement p = refusal.GetProperty("params");
        Assert.Equal("PolicyExhausted", p.GetProperty("reason").GetString());
        Assert.Equal(["key", "wallet", "key_budget", "policy"], p.GetProperty("checked").EnumerateArray().Select(a => a.GetProperty("account").GetString()));
        Assert.Equal(0, p.GetProperty("refused_by").GetProperty("policy_index").GetInt32());
        Assert.Equal(nextReset, p.GetProperty("reopens_at").GetInt64());
        string reopens = DateTimeOffset.FromUnixTimeSeconds(nextReset).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        Assert.Equal($"Key “one-a-day” was refused a request for demo-per-call: policy window used up. Checked: key status, user wallet, key budget, policy 1 (Daily); refused by policy 1 (Daily); reopens {reopens}.",
            refusal.GetProperty("content").GetString());

        JsonElement consume = (await LogsAsync($"token_id={id}&type=consume", 1)).Single();
        Assert.EndsWith("Checked: key status, user wallet, key budget, policy 1 (Daily).", consume.GetProperty("content").GetString(), StringComparison.Ordinal);

        using var holder = new ConsoleClient(host.Admin.BaseAddress!);
        using (HttpResponseMessage look = await holder.PostFormAsync("/me", "me", [new("Form.Key", key)]))
        {
            Assert.Equal(HttpStatusCode.Redirect, look.StatusCode);
        }

        string me = await holder.GetPageAsync("/me");
        Assert.Matches("data-field=\"last-refusal\"><time>[^<]+</time> Key “one-a-day” was refused a request for demo-per-call: policy window used up\\. Checked: key status, user wallet, key budget, policy 1 \\(Daily\\); refused by policy 1 \\(Daily\\); reopens [^<]+\\.</p>", me);
    }

    [Fact]
    public async Task AWalletsRefusal_IsExplained_AndNeverReopensByItself()
    {
        int user = await host.CreateUserAsync(quota: 10); // a demo-per-call request reserves 15
        (int id, string key) = await host.CreateTokenAsync(new { user_id = user, name = "poor", remain_quota = 1_000_000 });
        using (HttpResponseMessage refused = await host.ChatAsync(key, new { model = "demo-per-call", messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        JsonElement refusal = (await LogsAsync($"token_id={id}&action=request.refused", 1)).Single();
        JsonElement p = refusal.GetProperty("params");
        Assert.Equal("InsufficientUserQuota", p.GetProperty("reason").GetString());
        Assert.Equal("wallet", p.GetProperty("refused_by").GetProperty("account").GetString());
        Assert.Equal(JsonValueKind.Null, p.GetProperty("reopens_at").ValueKind);
        Assert.Equal("Key “poor” was refused a request for demo-per-call: user wallet too low. Checked: key status, user wallet; refused by user wallet; does not reopen by itself (a top-up, a raise or a reset does).",
            refusal.GetProperty("content").GetString());

        using var client = new ConsoleClient(host.Admin.BaseAddress!);
        await client.SignInAsync();
        string[] byReason = (await CsvAsync(client, "refusals")).SkipWhile(r => r[0] != "reason").Skip(1).Single();
        Assert.Equal(["InsufficientUserQuota", "-1", "", "1", "1"], byReason);
    }

    /// <summary>Every row of <c>/api/logs?{filter}</c>, once the log writer has stored at least <paramref name="atLeast"/> (it writes in batches).</summary>
    private async Task<List<JsonElement>> LogsAsync(string filter, int atLeast)
    {
        for (int attempt = 0; ; attempt++)
        {
            var rows = new List<JsonElement>();
            for (int page = 1; ; page++)
            {
                JsonElement body = await host.GetJsonAsync($"/api/logs?{filter}&size=100&p={page}");
                rows.AddRange(body.GetProperty("items").EnumerateArray());
                if (rows.Count >= body.GetProperty("total").GetInt32())
                {
                    break;
                }
            }

            if (rows.Count >= atLeast || attempt == 200)
            {
                Assert.Equal(atLeast, rows.Count);
                return rows;
            }

            await Task.Delay(50);
        }
    }

    private static async Task<List<string[]>> CsvAsync(ConsoleClient client, string chart)
    {
        using HttpResponseMessage response = await client.GetAsync($"/dashboard.csv?chart={chart}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        return [.. text.Split("\r\n").Where(line => line.Length > 0).Select(line => line.Split(','))];
    }
}
