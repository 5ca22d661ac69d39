using System.Diagnostics;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Benchmarks;

/// <summary>
/// What write-behind costs at a rate the log sustains: one thread runs reserve + settle pairs paced to a fixed rate
/// (a burst per millisecond, then sleep), with the delta log off (in-memory engine) and on (real FASTER log, pump
/// committing every 5 ms), and the process's CPU time (every thread: the pump, FASTER's I/O, GC) is divided by the
/// pairs. Separately: the saturation rate, i.e. unpaced pairs/s with the log on (a refused reserve, LogFull, is retried).
/// </summary>
public static class WriteBehindPaced
{
    public static async Task RunAsync(double seconds, int repeats, long[] rates, TextWriter output)
    {
        output.WriteLine("| paced rate (pairs/s) | CPU per pair, log off (ns) | CPU per pair, log on (ns) | on / off | of which the log pump thread (ns) | achieved pairs/s (on) |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (long rate in rates)
        {
            var off = new List<double>();
            var on = new List<double>();
            var pump = new List<double>();
            double achieved = 0;
            for (int r = 0; r < repeats; r++) // interleaved, so a noisy neighbour hurts both alike
            {
                off.Add((await RunAsync(log: false, rate, seconds)).CpuNsPerPair);
                (double cpu, double pairsPerSecond, double pumpCpu) = await RunAsync(log: true, rate, seconds);
                on.Add(cpu);
                pump.Add(pumpCpu);
                achieved = pairsPerSecond;
            }

            double offMedian = Median(off), onMedian = Median(on);
            output.WriteLine(FormattableString.Invariant($"| {rate:N0} | {offMedian:F0} | {onMedian:F0} | {onMedian / offMedian:F2}× | {Median(pump):F0} | {achieved:N0} |"));
        }

        output.WriteLine();
        output.WriteLine("| idle (no pairs) | process CPU, ms per s |");
        output.WriteLine("|---|---:|");
        foreach (bool log in new[] { false, true })
        {
            var idle = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                idle.Add(await IdleAsync(log, seconds));
            }

            output.WriteLine(FormattableString.Invariant($"| log {(log ? "on" : "off")} | {Median(idle):F1} |"));
        }

        output.WriteLine();
        output.WriteLine("| unpaced, 1 thread | pairs/s (median) | CPU per pair (ns) |");
        output.WriteLine("|---|---:|---:|");
        foreach (bool log in new[] { false, true })
        {
            var runs = new List<(double Cpu, double Rate, double Pump)>();
            for (int r = 0; r < repeats; r++)
            {
                runs.Add(await RunAsync(log, rate: 0, seconds));
            }

            runs.Sort((a, b) => a.Rate.CompareTo(b.Rate));
            (double cpu, double median, _) = runs[runs.Count / 2];
            output.WriteLine(FormattableString.Invariant($"| log {(log ? "on (saturation rate)" : "off")} | {median:N0} | {cpu:F0} |"));
        }
    }

    private static double Median(List<double> runs)
    {
        runs.Sort();
        return runs[runs.Count / 2];
    }

    /// <summary>Process CPU (ms per second) with an engine open and no traffic: the pump's and the runtime's own cost.</summary>
    private static async Task<double> IdleAsync(bool log, double seconds)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"quota-idle-{Guid.NewGuid():N}");
        PersistentEngine? persistent = log
            ? PersistentEngine.Open(new PersistenceOptions { DataDir = directory, CheckpointInterval = TimeSpan.FromHours(1), Engine = new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16 } })
            : null;
        Process process = Process.GetCurrentProcess();
        process.Refresh();
        TimeSpan before = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        process.Refresh();
        double msPerSecond = (process.TotalProcessorTime - before).TotalMilliseconds / clock.Elapsed.TotalSeconds;
        if (persistent is not null)
        {
            await persistent.CloseWithoutCheckpointAsync();
            Directory.Delete(directory, recursive: true);
        }

        return msPerSecond;
    }

    /// <summary>One run; <paramref name="rate"/> 0 = as fast as the engine (and the log) allow.</summary>
    private static async Task<(double CpuNsPerPair, double PairsPerSecond, double PumpNsPerPair)> RunAsync(bool log, long rate, double seconds)
    {
        var options = new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16 };
        string directory = Path.Combine(Path.GetTempPath(), $"quota-paced-{Guid.NewGuid():N}");
        PersistentEngine? persistent = log
            ? PersistentEngine.Open(new PersistenceOptions { DataDir = directory, Engine = options, CheckpointInterval = TimeSpan.FromHours(1) })
            : null;
        try
        {
            QuotaEngine engine = persistent?.Engine ?? new QuotaEngine(options);
            long now = engine.NowMs;
            int user = engine.CreateUser(1L << 60).Id;
            int token = engine.CreateToken(new TokenSpec
            {
                UserId = user,
                RemainQuotaUnits = 1L << 60,
                Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 46, Mode = PeriodMode.Daily, AnchorMs = now }],
            }, now).Id;
            Pairs(engine, token, now, 20_000); // warm-up (JIT tiers), not measured
            if (persistent is not null)
            {
                await persistent.AcknowledgeAsync();
            }

            Process process = Process.GetCurrentProcess();
            process.Refresh();
            TimeSpan cpuBefore = process.TotalProcessorTime;
            double pumpBefore = PumpThreadCpuMs();
            var clock = Stopwatch.StartNew();
            long done = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                if (rate == 0)
                {
                    done += Pairs(engine, token, now, 1000);
                    continue;
                }

                long due = (long)(clock.Elapsed.TotalSeconds * rate);
                done += Pairs(engine, token, now, due - done);
                Thread.Sleep(1);
            }

            double elapsed = clock.Elapsed.TotalSeconds;
            process.Refresh();
            double cpuNs = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds * 1e6;
            double pumpNs = (PumpThreadCpuMs() - pumpBefore) * 1e6;
            return (cpuNs / done, done / elapsed, pumpNs / done);
        }
        finally
        {
            if (persistent is not null)
            {
                await persistent.CloseWithoutCheckpointAsync();
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>
    /// CPU time (ms) of this process's delta-log pump threads (named "quota-delta-log-pump", which Linux shortens to
    /// 15 characters), from /proc/self/task; 0 where there is no /proc. Only one engine is open at a time here.
    /// </summary>
    private static double PumpThreadCpuMs()
    {
        if (!Directory.Exists("/proc/self/task"))
        {
            return 0;
        }

        double ticks = 0;
        foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith("quota-delta-log", StringComparison.Ordinal))
                {
                    continue;
                }

                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": state is field 3
                ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // the thread exited between listing and reading: it is not this run's pump
            }
        }

        return ticks * 10; // USER_HZ is 100 on Linux
    }

    /// <summary>Runs <paramref name="count"/> admitted pairs; a reserve refused because the log is full is retried.</summary>
    private static long Pairs(QuotaEngine engine, int token, long now, long count)
    {
        for (long i = 0; i < count; i++)
        {
            ReserveOutcome r = engine.Reserve(token, 60, now);
            while (!r.IsOk)
            {
                if (r.Result != ReserveResult.LogFull)
                {
                    throw new InvalidOperationException($"the benchmark's reserve was refused: {r.Result}");
                }

                Thread.SpinWait(20);
                r = engine.Reserve(token, 60, now);
            }

            engine.Settle(r.Id, 60, now);
        }

        return Math.Max(count, 0);
    }
}
