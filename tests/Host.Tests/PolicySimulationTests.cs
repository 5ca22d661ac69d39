using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Quota.Engine.Persistence;
using Quota.Host.Relay;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// What-if replay (docs/api.md "Simulating policies") over real Kestrel and a real LiteDB log: the answer equals an
/// independent, deliberately plain statement of the rules run over the same rows; bad input is a 400 naming the field
/// (the same as a PUT's); nothing is written.
/// </summary>
public sealed class PolicySimulationTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-06-27T12:00:00Z", CultureInfo.InvariantCulture);
    private const long DayMs = 86_400_000;
    private readonly FakeTimeProvider time = new(Now);
    private readonly TempDirectory directory = new();
    private HostUnderTest? host;

    public async ValueTask DisposeAsync()
    {
        if (host is not null)
        {
            await host.DisposeAsync();
        }

        directory.Dispose();
    }

    private sealed record Row(long AtMs, string Model, long Units, long Tokens);

    /// <summary>Irregular traffic over the last ten days: every 47 minutes, costs 5–44, every third request for gpt-4o.</summary>
    private static Row[] Traffic() =>
        [.. Enumerable.Range(0, 300).Select(i => new Row(
            Now.ToUnixTimeMilliseconds() - (10 * DayMs) + (i * 47 * 60_000L), i % 3 == 0 ? "gpt-4o" : "claude-3-haiku", 5 + (i * 37 % 40), 100 + (i * 13 % 500)))];

    private async Task<(HostUnderTest Host, int Token)> StartWithLogAsync(IEnumerable<Row> rows)
    {
        host = await HostUnderTest.StartAsync(directory.Path, null, time);
        int user = await host.CreateUserAsync();
        (int token, _) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000 });
        (int other, _) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000 });
        var documents = rows.Select(r => Consume(r, token, user)).ToList();
        documents.Add(Consume(new Row(Now.ToUnixTimeMilliseconds() - DayMs, "gpt-4o", 10_000, 10), other, user)); // another key's row
        documents.Add(Consume(new Row(Now.ToUnixTimeMilliseconds() - (40 * DayMs), "gpt-4o", 10_000, 10), token, user)); // before the period
        host.Services.GetRequiredService<QuotaRuntime>().Store.AppendLogs(documents);
        return (host, token);
    }

    private static LogDocument Consume(Row r, int token, int user) =>
        new ConsumeRow(r.Model, r.Tokens / 2, r.Tokens - (r.Tokens / 2), r.Units + 3, r.Tokens, 50, "settled", Counted: true).ToRow(r.AtMs, token, user, r.Units);

    private static Task<HttpResponseMessage> SimulateAsync(HostUnderTest h, int token, object body) =>
        h.Admin.PostAsJsonAsync($"/api/tokens/{token}/quota_policies/simulate", body);

    [Fact]
    public async Task TheReplay_EqualsThePlainRulesRunOverTheSameRows_AndWritesNothing()
    {
        Row[] traffic = Traffic();
        (HostUnderTest h, int token) = await StartWithLogAsync(traffic);
        long anchorMs = DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        object[] policies =
        [
            new { period_mode = "daily", quota = 500, anchor_time = anchorMs / 1000, mode = "shadow" }, // simulated as enforcing
            new { period_mode = "custom", custom_minutes = 600, metric = "requests", quota = 2, models = new[] { "gpt-4*" } }, // anchored at `from`
        ];
        long logRowsBefore = (await h.GetJsonAsync("/api/logs")).GetProperty("total").GetInt64();

        using HttpResponseMessage response = await SimulateAsync(h, token, new { quota_policies = policies });
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        JsonElement answer = JsonDocument.Parse(text).RootElement;

        // The rules, stated plainly: in index order, a policy refuses when its window's usage has reached its quota
        // (graceful, one request at a time); only admitted requests count.
        long toMs = Now.ToUnixTimeMilliseconds(), fromMs = toMs - (30 * DayMs);
        var spend = new Dictionary<long, long>();
        var requests = new Dictionary<long, long>();
        var refused = new List<(long Time, int Policy)>();
        foreach (Row row in traffic.OrderBy(r => r.AtMs))
        {
            long day = anchorMs + ((row.AtMs - anchorMs) / DayMs * DayMs);
            long window = (row.AtMs - fromMs) / (600 * 60_000L);
            bool scoped = row.Model.StartsWith("gpt-4", StringComparison.Ordinal);
            int refusedBy = spend.GetValueOrDefault(day) >= 500 ? 0 : scoped && requests.GetValueOrDefault(window) >= 2 ? 1 : -1;
            if (refusedBy >= 0)
            {
                refused.Add((row.AtMs / 1000, refusedBy));
                continue;
            }

            spend[day] = spend.GetValueOrDefault(day) + row.Units;
            requests[window] = requests.GetValueOrDefault(window) + (scoped ? 1 : 0);
        }

        Assert.True(refused.Count(r => r.Policy == 0) > 20 && refused.Count(r => r.Policy == 1) > 20, "the traffic must exercise both policies");
        Assert.Equal((fromMs / 1000, toMs / 1000, traffic.Length, refused.Count, false),
            (answer.GetProperty("from").GetInt64(), answer.GetProperty("to").GetInt64(), answer.GetProperty("requests").GetInt32(),
             answer.GetProperty("would_refuse").GetInt32(), answer.GetProperty("refused_truncated").GetBoolean()));
        Assert.Equal(refused.Select(r => (r.Time, r.Policy, "policy_exhausted")),
            answer.GetProperty("refused").EnumerateArray().Select(r => (r.GetProperty("time").GetInt64(), r.GetProperty("policy_index").GetInt32(), r.GetProperty("reason").GetString()!)));
        Assert.Equal([(0, refused.Count(r => r.Policy == 0)), (1, refused.Count(r => r.Policy == 1))],
            answer.GetProperty("by_policy").EnumerateArray().Select(p => (p.GetProperty("policy_index").GetInt32(), p.GetProperty("would_refuse").GetInt32())));
        JsonElement[] days = [.. answer.GetProperty("by_day").EnumerateArray()];
        Assert.Equal(31, days.Length); // 30 days from noon: 31 UTC dates
        foreach (JsonElement d in days)
        {
            long start = d.GetProperty("start").GetInt64() * 1000;
            Assert.Equal(0, start % DayMs);
            Assert.Equal((traffic.Count(r => r.AtMs >= start && r.AtMs < start + DayMs), refused.Count(r => r.Time * 1000 >= start && r.Time * 1000 < start + DayMs)),
                (d.GetProperty("requests").GetInt32(), d.GetProperty("would_refuse").GetInt32()));
        }

        // Nothing written: the key has no policy, and the log has no new row.
        Assert.Equal(0, (await h.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies").GetArrayLength());
        Assert.Equal(logRowsBefore, (await h.GetJsonAsync("/api/logs")).GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task APeriod_CountsOnlyItsRows()
    {
        (HostUnderTest h, int token) = await StartWithLogAsync(Traffic());
        long fromS = (Now.ToUnixTimeMilliseconds() - (2 * DayMs)) / 1000, toS = (Now.ToUnixTimeMilliseconds() - DayMs) / 1000;

        using HttpResponseMessage response = await SimulateAsync(h, token, new { quota_policies = new[] { new { period_mode = "daily", quota = 1_000_000 } }, from = fromS, to = toS });
        JsonElement answer = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(Traffic().Count(r => r.AtMs >= fromS * 1000 && r.AtMs < toS * 1000), answer.GetProperty("requests").GetInt32());
        Assert.Equal(0, answer.GetProperty("would_refuse").GetInt32());
    }

    public static TheoryData<string, string> BadBodies() => new()
    {
        { """{}""", "quota_policies" },
        { """{"quota_policies":[{"period_mode":"daily","quota":10},{"period_mode":"daily","quota":0}]}""", "quota_policies[1].quota" },
        { """{"quota_policies":[{"period_mode":"hourly","quota":10}]}""", "quota_policies[0].period_mode" },
        { """{"quota_policies":[{"period_mode":"daily","quota":10,"mode":"maybe"}]}""", "quota_policies[0].mode" },
        { """{"quota_policies":[{"period_mode":"daily","quota":10,"time_zone":"Mars/Olympus"}]}""", "quota_policies[0].time_zone" },
        { """{"quota_policies":[{"period_mode":"daily","quota":1},{"period_mode":"daily","quota":1},{"period_mode":"daily","quota":1},{"period_mode":"daily","quota":1},{"period_mode":"daily","quota":1}]}""", "quota_policies" },
        { """{"quota_policies":[],"from":1782560000,"to":1782560000}""", "from" },
        { """{"quota_policies":[],"from":-5}""", "from" },
        { """{"quota_policies":[],"to":-1}""", "to" },
        { """{"quota_policies":[],"from":1700000000,"to":1782560000}""", "from" },
        { """{"quota_policies":[],"from":"yesterday"}""", "from" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadInput_Is400NamingTheField(string body, string field)
    {
        (HostUnderTest h, int token) = await StartWithLogAsync([]);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await h.Admin.PostAsync($"/api/tokens/{token}/quota_policies/simulate", content);
        await ShadowPolicyTests.AssertFieldAsync(response, field);
    }

    [Fact]
    public async Task AnUnknownKey_Is404()
    {
        (HostUnderTest h, _) = await StartWithLogAsync([]);
        using HttpResponseMessage response = await SimulateAsync(h, 999, new { quota_policies = Array.Empty<object>() });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
