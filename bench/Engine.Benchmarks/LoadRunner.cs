using System.Diagnostics;
using System.Globalization;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Benchmarks;

/// <summary>
/// Measurements that need several threads, real waiting or a big data directory: 2-thread scaling (distinct keys and
/// one hot key), durable-mode acknowledged pairs/s under many concurrent requests, and recovery time.
/// Each prints a markdown table row set; medians of <c>repeats</c> runs with the range.
/// </summary>
public static class LoadRunner
{
    public static void Scaling(double seconds, int repeats, TextWriter output)
    {
        output.WriteLine("| scenario | pairs/s (median) | range | vs 1 thread |");
        output.WriteLine("|---|---:|---|---:|");
        double single = 0;
        foreach ((string name, int threads, bool hotKey) in new[] { ("1 thread", 1, false), ("2 threads, distinct keys", 2, false), ("2 threads, one hot key", 2, true) })
        {
            double[] runs = Enumerable.Range(0, repeats).Select(_ => ScalingRun(threads, hotKey, seconds)).Order().ToArray();
            double median = runs[runs.Length / 2];
            single = threads == 1 ? median : single;
            output.WriteLine(Row(name, median, runs, threads == 1 ? "1.00×" : $"{median / single:F2}×"));
        }
    }

    private static double ScalingRun(int threads, bool hotKey, double seconds)
    {
        var engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 16, ReservationsMax = 1 << 16 });
        long now = engine.NowMs;
        int[] tokens = Enumerable.Range(0, threads).Select(_ =>
        {
            int user = engine.CreateUser(1L << 60).Id;
            return engine.CreateToken(new TokenSpec
            {
                UserId = user,
                RemainQuotaUnits = 1L << 60,
                Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 46, Mode = PeriodMode.Daily, AnchorMs = now }],
            }, now).Id;
        }).ToArray();
        long total = 0;
        using var start = new Barrier(threads + 1);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            int token = tokens[hotKey ? 0 : t];
            start.SignalAndWait();
            long count = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                for (int i = 0; i < 1000; i++)
                {
                    engine.Settle(engine.Reserve(token, 60, now).Id, 60, now);
                }

                count += 1000;
            }

            Interlocked.Add(ref total, count);
        })).ToArray();
        foreach (Thread worker in workers)
        {
            worker.Start();
        }

        start.SignalAndWait();
        var wall = Stopwatch.StartNew();
        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        return total / wall.Elapsed.TotalSeconds;
    }

    public static async Task DurableAsync(double seconds, int repeats, int concurrency, TextWriter output)
    {
        output.WriteLine($"| mode ({concurrency} concurrent requests) | acknowledged pairs/s (median) | range |");
        output.WriteLine("|---|---:|---|");
        foreach (Durability durability in new[] { Durability.Durable, Durability.WriteBehind })
        {
            var runs = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                runs.Add(await DurableRunAsync(durability, seconds, concurrency));
            }

            double[] sorted = runs.Order().ToArray();
            output.WriteLine(Row(durability.ToString(), sorted[sorted.Length / 2], sorted, null));
        }
    }

    private static async Task<double> DurableRunAsync(Durability durability, double seconds, int concurrency)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"quota-durable-{Guid.NewGuid():N}");
        await using (PersistentEngine persistent = PersistentEngine.Open(new PersistenceOptions
        {
            DataDir = directory,
            Durability = durability,
            CheckpointInterval = TimeSpan.FromHours(1),
            Engine = new EngineOptions { KeysMax = 1024, UsersMax = 16, ReservationsMax = 1 << 16 },
        }))
        {
            QuotaEngine engine = persistent.Engine;
            long now = engine.NowMs;
            int user = engine.CreateUser(1L << 60).Id;
            int[] tokens = Enumerable.Range(0, 64).Select(_ => engine.CreateToken(new TokenSpec
            {
                UserId = user,
                RemainQuotaUnits = 1L << 60,
                Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 46, Mode = PeriodMode.Daily, AnchorMs = now }],
            }, now).Id).ToArray();
            await persistent.AcknowledgeAsync();
            long pairs = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
            {
                int token = tokens[worker % tokens.Length];
                while (clock.Elapsed.TotalSeconds < seconds)
                {
                    ReserveOutcome r = engine.Reserve(token, 60, now);
                    if (!r.IsOk)
                    {
                        // LogFull: back off like a client given a 503. Spinning here would starve the thread pool,
                        // where FASTER completes the very I/O that frees the log.
                        await Task.Delay(1);
                        continue;
                    }

                    await persistent.AcknowledgeAsync();
                    engine.Settle(r.Id, 60, now);
                    await persistent.AcknowledgeAsync();
                    Interlocked.Increment(ref pairs);
                }
            })));
            double rate = pairs / clock.Elapsed.TotalSeconds;
            await persistent.CloseWithoutCheckpointAsync();
            Directory.Delete(directory, recursive: true);
            return rate;
        }
    }

    public static async Task RecoveryAsync(int keys, long records, TextWriter output)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"quota-recovery-{Guid.NewGuid():N}");
        var options = new PersistenceOptions
        {
            DataDir = directory,
            CheckpointInterval = TimeSpan.FromHours(1),
            Engine = new EngineOptions { KeysMax = keys + 16, UsersMax = 1024, ReservationsMax = 1 << 18 },
        };
        var build = Stopwatch.StartNew();
        long appended;
        await using (PersistentEngine persistent = PersistentEngine.Open(options))
        {
            QuotaEngine engine = persistent.Engine;
            long now = engine.NowMs;
            int user = engine.CreateUser(1L << 60).Id;
            for (int i = 0; i < keys; i++)
            {
                engine.CreateToken(new TokenSpec
                {
                    UserId = user,
                    RemainQuotaUnits = 1L << 40,
                    Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 40, Mode = PeriodMode.Daily, AnchorMs = now }],
                }, now);
            }

            await persistent.CheckpointAsync(); // the keys are in the snapshot; the records below are replayed from the log
            long first = persistent.Writer.AppendedThrough;
            var random = new Random(1);
            while (persistent.Writer.AppendedThrough - first < records)
            {
                ReserveOutcome r = engine.Reserve(random.Next(1, keys + 1), 60, now);
                if (r.IsOk)
                {
                    engine.Settle(r.Id, 55, now);
                }
            }

            appended = persistent.Writer.AppendedThrough - first;
            await persistent.CloseWithoutCheckpointAsync();
        }

        long bytes = new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        output.WriteLine($"built {keys:N0} keys (1 policy each) + {appended:N0} log records ({bytes / 1e6:F0} MB on disk) in {build.Elapsed.TotalSeconds:F1} s");
        var open = Stopwatch.StartNew();
        await using (PersistentEngine recovered = PersistentEngine.Open(options))
        {
            double seconds = open.Elapsed.TotalSeconds;
            output.WriteLine("| recovery | seconds |");
            output.WriteLine("|---|---:|");
            output.WriteLine(FormattableString.Invariant($"| open (snapshot load + replay of {recovered.Recovery.RecordsReplayed:N0} records) | {seconds:F2} |"));
            output.WriteLine(FormattableString.Invariant($"| of which recovery proper | {recovered.Recovery.Elapsed.TotalSeconds:F2} |"));
            output.WriteLine(FormattableString.Invariant($"| of which snapshot load ({recovered.Recovery.SnapshotSequence:N0} records' worth) | {recovered.Recovery.SnapshotLoad.TotalSeconds:F2} |"));
            await recovered.CloseWithoutCheckpointAsync();
        }

        Directory.Delete(directory, recursive: true);
    }

    private static string Row(string name, double median, IReadOnlyList<double> runs, string? ratio) =>
        string.Create(CultureInfo.InvariantCulture, $"| {name} | {median:N0} | {runs.Min():N0} … {runs.Max():N0} |{(ratio is null ? "" : $" {ratio} |")}");
}
