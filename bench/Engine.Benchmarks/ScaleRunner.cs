using System.Diagnostics;
using System.Globalization;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Benchmarks;

/// <summary>
/// The engine at scale (bench/README.md "Engine at scale"): a data directory with N keys (one daily policy each, 100 keys
/// per user), then what grows with N — resident memory per key, the background tick's cost when idle, a checkpoint's
/// duration and memory and the reserve latency while it runs, a clean stop, and the start (recovery) after it. Prints
/// the machine's load average beside the numbers: on a shared machine they move with it.
/// </summary>
internal static class ScaleRunner
{
    public static async Task RunAsync(int keys, TextWriter output)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"quota-scale-{Guid.NewGuid():N}");
        var options = new PersistenceOptions
        {
            DataDir = directory,
            CheckpointInterval = TimeSpan.FromHours(1), // checkpoints below are started by hand
            Engine = new EngineOptions { KeysMax = keys + 16, UsersMax = keys / 100 + 16, ReservationsMax = 1 << 18 },
        };
        output.WriteLine($"#### {keys:N0} keys — load average at start: {LoadAverage()}");
        output.WriteLine();
        output.WriteLine("| what | value |");
        output.WriteLine("|---|---:|");
        try
        {
            long rssEmpty, heapEmpty;
            PersistentEngine persistent = PersistentEngine.Open(options);
            (rssEmpty, heapEmpty) = Memory();
            var build = Stopwatch.StartNew();
            QuotaEngine engine = persistent.Engine;
            long now = engine.NowMs;
            int[] users = Enumerable.Range(0, keys / 100 + 1).Select(_ => engine.CreateUser(1L << 50).Id).ToArray();
            for (int i = 0; i < keys; i++)
            {
                SaveOutcome saved = engine.CreateToken(new TokenSpec
                {
                    UserId = users[i / 100],
                    RemainQuotaUnits = 1L << 40,
                    Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 40, Mode = PeriodMode.Daily, AnchorMs = now }],
                }, now);
                if (!saved.IsOk)
                {
                    SpinWait.SpinUntil(() => false, 1); // the log is full: let the pump catch up
                    i--;
                }
            }

            Row(output, "build (create users and keys)", $"{build.Elapsed.TotalSeconds:F1} s");
            (long rss, long heap) = Memory();
            Row(output, "resident memory per key (RSS growth / keys)", $"{(rss - rssEmpty) / (double)keys:F0} B");
            Row(output, "managed heap per key", $"{(heap - heapEmpty) / (double)keys:F0} B");

            persistent.CheckpointCpuShare = 1; // the first snapshot, unmeasured: the periodic one below reads it back
            await persistent.CheckpointAsync();
            persistent.CheckpointCpuShare = 0.5;

            output.WriteLine(FormattableString.Invariant($"| background tick when idle (expiry sweep + rollover), best batch | {TickMicroseconds(engine):F1} us |"));
            await Task.Delay(TimeSpan.FromSeconds(5)); // background compilation and collection after the build settle first
            Row(output, "process CPU when idle, 20 s (ticks every second)", $"{await IdleCpuPercentAsync(20):F2} % of a core");

            // Traffic, then a checkpoint of it with reserves going on; p99 before and during.
            LatencyRun before = await ReserveLoadAsync(engine, keys, now, TimeSpan.FromSeconds(3), during: null);
            var checkpointWatch = new Stopwatch();
            long peakRss = rss, peakHeap = heap;
            LatencyRun during = await ReserveLoadAsync(engine, keys, now, TimeSpan.Zero, during: async () =>
            {
                using var sampling = new CancellationTokenSource();
                Task sampler = Task.Run(async () =>
                {
                    while (!sampling.IsCancellationRequested)
                    {
                        using (var process = Process.GetCurrentProcess())
                        {
                            peakRss = Math.Max(peakRss, process.WorkingSet64);
                        }

                        peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(forceFullCollection: false));
                        await Task.Delay(50).ConfigureAwait(false);
                    }
                });
                checkpointWatch.Start();
                await persistent.CheckpointAsync();
                checkpointWatch.Stop();
                await sampling.CancelAsync();
                await sampler;
            });
            Row(output, "reserve + settle latency, 1 thread, no checkpoint: p50 / p99 / max", before.Describe());
            Row(output, "the same while a checkpoint runs: p50 / p99 / max", during.Describe());
            Row(output, "checkpoint (paced to half a core, below-normal priority)", $"{checkpointWatch.Elapsed.TotalSeconds:F1} s, {during.Pairs:N0} pairs served meanwhile");
            Row(output, "peak RSS during the checkpoint, over RSS before", $"+{(peakRss - rss) / 1e6:F0} MB ({(peakRss - rss) * 100.0 / rss:F0} %)");
            Row(output, "peak managed heap during the checkpoint, over the heap before", $"+{(peakHeap - heap) / 1e6:F0} MB ({(peakHeap - heap) * 100.0 / heap:F0} %)");

            var stop = Stopwatch.StartNew();
            await persistent.DisposeAsync();
            Row(output, "clean stop (commit; the log is short, so no checkpoint)", $"{stop.Elapsed.TotalSeconds:F2} s");

            var open = Stopwatch.StartNew();
            await using (PersistentEngine recovered = PersistentEngine.Open(options))
            {
                Row(output, "start after it (snapshot load + replay)", FormattableString.Invariant(
                    $"{open.Elapsed.TotalSeconds:F2} s ({recovered.Recovery.SnapshotLoad.TotalSeconds:F2} s load, {recovered.Recovery.RecordsReplayed:N0} records replayed)"));
                var forcedStop = Stopwatch.StartNew();
                await recovered.CheckpointAsync(CancellationToken.None);
                Row(output, "a full checkpoint, paced (what a stop with a long log adds)", $"{forcedStop.Elapsed.TotalSeconds:F1} s");
                await recovered.CloseWithoutCheckpointAsync();
            }

            output.WriteLine();
            output.WriteLine($"load average at the end: {LoadAverage()}");
            output.WriteLine();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Row(TextWriter output, string what, string value) => output.WriteLine($"| {what} | {value} |");

    private static (long Rss, long Heap) Memory()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (process.WorkingSet64, GC.GetTotalMemory(forceFullCollection: false));
    }

    /// <summary>The fastest of 20 batches of 50 ticks, per tick: on a shared machine the slower batches measure the neighbours.</summary>
    private static double TickMicroseconds(QuotaEngine engine)
    {
        long now = engine.NowMs;
        engine.ExpireDue(now);
        engine.RollDueWindows(now);
        double best = double.MaxValue;
        for (int batch = 0; batch < 20; batch++)
        {
            long started = Stopwatch.GetTimestamp();
            for (int i = 0; i < 50; i++)
            {
                engine.ExpireDue(now);
                engine.RollDueWindows(now);
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(started).TotalMicroseconds / 50);
        }

        return best;
    }

    private static async Task<double> IdleCpuPercentAsync(int seconds)
    {
        using var process = Process.GetCurrentProcess();
        TimeSpan cpuBefore = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        process.Refresh();
        return (process.TotalProcessorTime - cpuBefore).TotalMilliseconds * 100 / wall.Elapsed.TotalMilliseconds;
    }

    private sealed record LatencyRun(long Pairs, double P50Us, double P99Us, double MaxUs)
    {
        public string Describe() => FormattableString.Invariant($"{P50Us:F1} / {P99Us:F1} / {MaxUs:F0} us");
    }

    /// <summary>
    /// One thread of reserve + settle pairs on random keys, about 20,000 a second (a steady request stream, not a flood the
    /// log cannot take), for <paramref name="length"/> or until <paramref name="during"/> completes.
    /// </summary>
    private static async Task<LatencyRun> ReserveLoadAsync(QuotaEngine engine, int keys, long now, TimeSpan length, Func<Task>? during)
    {
        var latencies = new List<double>(1 << 20);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() =>
        {
            var random = new Random(3);
            while (!stop.IsCancellationRequested)
            {
                long started = Stopwatch.GetTimestamp();
                ReserveOutcome r = engine.Reserve(random.Next(1, keys + 1), 10, now);
                if (r.IsOk)
                {
                    engine.Settle(r.Id, 7, now);
                }

                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20_000;
                while (Stopwatch.GetTimestamp() < until)
                {
                    Thread.Yield();
                }
            }
        }) { IsBackground = true, Name = "scale-load" };
        thread.Start();
        if (during is null)
        {
            await Task.Delay(length);
        }
        else
        {
            await during();
        }

        await stop.CancelAsync();
        thread.Join();
        latencies.Sort();
        double At(double q) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        return new LatencyRun(latencies.Count, At(0.5), At(0.99), latencies.Count == 0 ? 0 : latencies[^1]);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
