using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.ConsoleUi;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Host.Tests;

/// <summary>
/// The dashboard at the size docs/operations.md "Dashboard" promises: 100,000 keys, the counters of 10M log rows over
/// 30 days (20 models; up to every key active every hour of the last day), 5,000 keys near exhaustion. Slow to set up
/// (a minute), so it runs only with QUOTA_DASHBOARD_SCALE=1; it then fails when a page takes more than 200 ms.
/// </summary>
public sealed class DashboardScaleMeasurement(ITestOutputHelper output)
{
    [Fact]
    public async Task TheDashboard_At100000Keys_AndTenMillionRowsOfCounters_AnswersWithin200Ms()
    {
        if (Environment.GetEnvironmentVariable("QUOTA_DASHBOARD_SCALE") != "1")
        {
            return;
        }

        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);
        QuotaRuntime runtime = host.Services.GetRequiredService<QuotaRuntime>();
        int user = await host.CreateUserAsync(quota: 1_000_000_000_000);
        long now = runtime.NowMs;
        var policy = new QuotaPolicySpec { Mode = PeriodMode.Daily, QuotaUnits = 100, AnchorMs = now - 3_600_000 };
        var ids = new List<int>();
        for (int i = 0; i < 100_000; i++)
        {
            SaveOutcome created = runtime.Engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1_000_000, Policies = [policy] }, now);
            Assert.True(created.IsOk, created.Error.ToString());
            ids.Add(created.Id);
            if (i % 20 == 0)
            {
                ReserveOutcome held = runtime.Engine.Reserve(created.Id, new ReserveRequest(85, 0, null), now);
                Assert.True(held.IsOk, held.Result.ToString());
                Assert.Equal(FinishResult.Ok, runtime.Engine.Settle(held.Id, 85, 0, now).Result);
            }
        }

        var seed = Stopwatch.StartNew();
        foreach (int id in ids)
        {
            runtime.Watched.Observe(id);
        }

        output.WriteLine($"start-up look at 100,000 keys: {seed.ElapsedMilliseconds} ms; watched {runtime.Watched.Count}");

        foreach ((string label, int keysPerHour) in new[] { ("10M rows / 30 days (14,000 keys an hour)", 14_000), ("every key every hour of the last day", 100_000) })
        {
            var increments = new List<RollupDocument>();
            long hourNow = now - (now % 3_600_000);
            for (int h = 0; h < 31 * 24; h++)
            {
                long hour = hourNow - (h * 3_600_000L);
                for (int m = 0; m < 20; m++)
                {
                    increments.Add(new RollupDocument { HourMs = hour, Family = 0, Name = $"model-{m}", Group = $"provider-{m % 3}", Requests = 700, Units = 70_000, Tokens = 700_000 });
                }

                for (int r = 0; r < 10; r++)
                {
                    increments.Add(new RollupDocument { HourMs = hour, Family = 2, Name = ((ReserveResult)(r + 2)).ToString(), PolicyIndex = r % 4, Group = "Daily", Requests = 3 });
                }

                if (h < 24)
                {
                    for (int k = 0; k < keysPerHour; k++)
                    {
                        int id = ids[(k + (h * 997)) % ids.Count];
                        increments.Add(new RollupDocument { HourMs = hour, Family = 1, TokenId = id, UserId = user, Requests = 1, Units = 100 + (id % 1000), Tokens = 1000 });
                    }
                }
            }

            runtime.Usage.Committed(increments, []);
            var times = new List<long>();
            var cpuTimes = new List<long>();
            for (int run = 0; run < 7; run++)
            {
                var watch = Stopwatch.StartNew();
                long cpuBefore = ThreadCpuMs();
                DashboardData page = DashboardData.Load(runtime, NodaTime.DateTimeZone.Utc, DashboardData.Stack.Model);
                cpuTimes.Add(ThreadCpuMs() - cpuBefore);
                times.Add(watch.ElapsedMilliseconds);
                Assert.Equal(DashboardData.TopCount, page.TopKeys.Count);
            }

            using var client = new ConsoleClient(host.Admin.BaseAddress!);
            await client.SignInAsync();
            var pageTimes = new List<long>();
            for (int run = 0; run < 5; run++)
            {
                var watch = Stopwatch.StartNew();
                await client.GetPageAsync("/");
                pageTimes.Add(watch.ElapsedMilliseconds);
            }

            times.Sort();
            cpuTimes.Sort();
            pageTimes.Sort();
            output.WriteLine($"{label}: numbers {times[times.Count / 2]} ms median wall ({string.Join(", ", times)}), {cpuTimes[cpuTimes.Count / 2]} ms median CPU of the thread ({string.Join(", ", cpuTimes)}); whole page over HTTP {pageTimes[pageTimes.Count / 2]} ms median wall ({string.Join(", ", pageTimes)}); load {File.ReadAllText("/proc/loadavg").Trim()}");
            // A shared machine stretches wall time; the thread's own CPU time is what a quiet core would take.
            Assert.True(cpuTimes[cpuTimes.Count / 2] <= 200, $"{label}: {cpuTimes[cpuTimes.Count / 2]} ms of CPU");
        }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), in ms.</summary>
    private static long ThreadCpuMs() => ClockGetTime(3, out Timespec t) == 0 ? (t.Seconds * 1000) + (t.Nanoseconds / 1_000_000) : 0;

    [Fact]
    public void TheLogWriter_WithTheHourlyCounters_StillStoresThousandsOfRowsASecond()
    {
        if (Environment.GetEnvironmentVariable("QUOTA_DASHBOARD_SCALE") != "1")
        {
            return;
        }

        foreach (bool counted in new[] { false, true })
        {
            using var data = new TempDirectory();
            using var store = new LiteConfigStore(Path.Combine(data.Path, "quota.db"));
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if (counted)
            {
                _ = new UsageRollup(store, () => now, _ => { });
            }

            var watch = Stopwatch.StartNew();
            long cpuBefore = ThreadCpuMs();
            const int Batches = 25, BatchRows = 2_000; // the writer's batch size
            for (int b = 0; b < Batches; b++)
            {
                var rows = new List<LogDocument>(BatchRows);
                for (int i = 0; i < BatchRows; i++)
                {
                    int token = 1 + ((b * BatchRows) + i) % 100_000; // every row another key: the most counters per batch
                    rows.Add(new Relay.ConsumeRow($"model-{i % 20}", 1000, 200, 1500, 1000, 1024, "Ok", false) { Provider = "default" }.ToRow(now, token, 1, 1200));
                }

                store.AppendLogs(rows);
            }

            output.WriteLine($"{(counted ? "with" : "without")} the hourly counters: {Batches * BatchRows * 1000L / Math.Max(1, watch.ElapsedMilliseconds):N0} rows/s wall, {Batches * BatchRows * 1000L / Math.Max(1, ThreadCpuMs() - cpuBefore):N0} rows per CPU second");
        }
    }
}
