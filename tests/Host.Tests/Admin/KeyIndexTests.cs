using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.ConsoleUi;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Admin;

/// <summary>
/// The key listings page through the key index: every filter answers the same items and total as the full scan of
/// every label the listings did before (kept here as the oracle), after creates, renames, status changes and deletes,
/// and after a restart (the index is then built from the labels).
/// </summary>
public sealed class KeyIndexTests : IDisposable
{
    private static readonly string[] Names = ["Alpha build", "beta", "ALPHA-prod", "gamma ray", "Beta release", "", "delta α", "zeta"];
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    [Fact]
    public async Task EveryFilterAndPage_AnswersWhatTheFullScanAnswers_AcrossWritesAndARestart()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var ids = new List<int>();
        await using (HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, time))
        {
            int[] users = [await host.CreateUserAsync(), await host.CreateUserAsync(), await host.CreateUserAsync()];
            long soon = time.GetUtcNow().ToUnixTimeSeconds() + 3600;
            for (int i = 0; i < 240; i++)
            {
                object body = (i % 6) switch
                {
                    0 => new { user_id = users[i % 3], name = Names[i % Names.Length] + i, remain_quota = 1000, status = 2 },
                    1 => new { user_id = users[i % 3], name = Names[i % Names.Length], remain_quota = 0 },
                    2 => new { user_id = users[i % 3], name = Names[i % Names.Length] + i, remain_quota = 1000, expired_time = soon },
                    3 => new { user_id = users[i % 3], name = Names[i % Names.Length], remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100, exhausted_action = "disable_token" } },
                    _ => new { user_id = users[(i / 7) % 3], name = Names[i % Names.Length] + i, unlimited_quota = true },
                };
                ids.Add((await host.CreateTokenAsync(body)).Id);
            }

            QuotaRuntime runtime = host.Services.GetRequiredService<QuotaRuntime>();
            await AssertSameAsFullScanAsync(host, runtime, users);

            // Changes the index learns of by writes: renames, disables, deletes.
            for (int i = 0; i < 40; i++)
            {
                int id = ids[i * 5];
                using HttpResponseMessage response = i % 2 == 0
                    ? await host.Admin.DeleteAsync($"/api/tokens/{id}")
                    : await host.Admin.PutAsJsonAsync($"/api/tokens/{id}", new { name = "renamed " + Names[i % Names.Length], status = 2 });
                response.EnsureSuccessStatusCode();
            }

            // Changes without a write: policies pause keys, expiries pass. The census catches them on its refresh.
            foreach (int id in ids.Where((_, i) => i % 6 == 3).Take(12))
            {
                using HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { token_id = id, amount = 10 });
                if (reserve.IsSuccessStatusCode)
                {
                    string reservation = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
                    using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = reservation, amount = 120 });
                    settle.EnsureSuccessStatusCode();
                }
            }

            time.Advance(TimeSpan.FromHours(2));
            runtime.Keys.RefreshStatuses();
            await AssertSameAsFullScanAsync(host, runtime, users);
        }

        await using HostUnderTest again = await HostUnderTest.StartAsync(data.Path, null, time);
        QuotaRuntime restarted = again.Services.GetRequiredService<QuotaRuntime>();
        await restarted.IndexKeysAsync();
        Assert.Equal(220, restarted.Keys.Count); // 240 created, 20 deleted
        await AssertSameAsFullScanAsync(again, restarted, [1, 2, 3]);
    }

    [Fact]
    public async Task AStatusTheIndexDoesNotKnow_MatchesNothing_AndADeepPageIsEmptyWithTheTotal()
    {
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        int user = await host.CreateUserAsync();
        for (int i = 0; i < 3; i++)
        {
            await host.CreateTokenAsync(new { user_id = user, remain_quota = 10 });
        }

        JsonElement bogus = await host.GetJsonAsync("/api/tokens?status=paused");
        Assert.Equal((0, 0), (bogus.GetProperty("items").GetArrayLength(), bogus.GetProperty("total").GetInt32()));
        JsonElement deep = await host.GetJsonAsync($"/api/tokens?p={int.MaxValue}&size=100");
        Assert.Equal((0, 3), (deep.GetProperty("items").GetArrayLength(), deep.GetProperty("total").GetInt32()));
    }

    private static async Task AssertSameAsFullScanAsync(HostUnderTest host, QuotaRuntime runtime, int[] users)
    {
        Application.KeyService keys = host.Services.GetRequiredService<Application.KeyService>();
        string?[] statuses = [null, .. KeyIndex.Statuses, "paused"];
        int?[] userFilters = [null, .. users.Select(u => (int?)u)];
        foreach (int? user in userFilters)
        {
            foreach (string? status in statuses)
            {
                foreach ((int page, int size) in new[] { (1, 20), (3, 13), (30, 100) })
                {
                    (int[] expected, int expectedTotal) = FullScan(runtime, user, status, null, page, size);
                    string query = $"/api/tokens?p={page}&size={size}" + (user is null ? "" : $"&user_id={user}") + (status is null ? "" : $"&status={status}");
                    JsonElement answer = await host.GetJsonAsync(query);
                    int[] actual = [.. answer.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetInt32())];
                    Assert.True(expected.SequenceEqual(actual), $"{query}: [{string.Join(",", expected)}] expected, [{string.Join(",", actual)}] listed");
                    Assert.Equal(expectedTotal, answer.GetProperty("total").GetInt32());
                }
            }
        }

        foreach (string search in new[] { "alpha", "BETA", "a", "ray", "α", "renamed", "nothing-like-it", "1" })
        {
            foreach (string? status in new[] { null, "enabled", "disabled" })
            {
                foreach (int page in new[] { 1, 2 })
                {
                    (int[] expected, int expectedTotal) = FullScan(runtime, users[1], status, search, page, KeyDirectory.PageSize);
                    (IReadOnlyList<KeyRow> rows, int total) = KeyDirectory.Page(keys, status, search, users[1], page);
                    Assert.Equal(expected, rows.Select(r => r.Label.Id));
                    Assert.Equal(expectedTotal, total);
                    (expected, expectedTotal) = FullScan(runtime, null, status, search, page, KeyDirectory.PageSize);
                    (rows, total) = KeyDirectory.Page(keys, status, search, null, page);
                    Assert.Equal(expected, rows.Select(r => r.Label.Id));
                    Assert.Equal(expectedTotal, total);
                }
            }
        }
    }

    /// <summary>What the listings did before the index: read every label and every key's live view.</summary>
    private static (int[] Ids, int Total) FullScan(QuotaRuntime runtime, int? user, string? status, string? search, int page, int size)
    {
        long now = runtime.NowMs;
        var matching = runtime.Store.AllTokens()
            .Where(label => user is null || label.UserId == user)
            .Where(label => string.IsNullOrEmpty(search) || (label.Name ?? "").Contains(search, StringComparison.OrdinalIgnoreCase))
            .Select(label => (label, view: runtime.ReadToken(label.Id, now)))
            .Where(t => t.view is not null && (status is null || TokenJson.DisplayStatus(t.view) == status))
            .OrderBy(t => t.label.Id)
            .Select(t => t.label.Id)
            .ToList();
        return ([.. matching.Skip((page - 1) * size).Take(size)], matching.Count);
    }
}
