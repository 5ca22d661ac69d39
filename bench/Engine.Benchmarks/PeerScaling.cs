using System.Diagnostics;
using Quota.Engine;
using Quota.Engine.Model;

namespace Quota.Benchmarks;

/// <summary>
/// The engine against the fair locked peer (<see cref="LockedQuota"/>) in one run: reserve + settle pairs/s with
/// 1 thread, and with 2 threads each on its own key of one user (the wallet is shared, so the peer serialises on
/// that user's lock while the engine's keys contend only on the wallet's words). Medians of <c>repeats</c> runs.
/// </summary>
public static class PeerScaling
{
    private const int Batch = 1000;

    public static void Run(double seconds, int repeats, TextWriter output)
    {
        output.WriteLine("| scenario (wallet + budget + 1 policy) | engine pairs/s (median) | locked peer pairs/s (median) | engine / peer |");
        output.WriteLine("|---|---:|---:|---:|");
        foreach ((string name, int threads) in new[] { ("1 thread", 1), ("2 threads, keys of one user", 2) })
        {
            var engineRuns = new List<double>();
            var peerRuns = new List<double>();
            for (int r = 0; r < repeats; r++) // interleaved, so a noisy neighbour hurts both alike
            {
                engineRuns.Add(EngineRun(threads, seconds));
                peerRuns.Add(PeerRun(threads, seconds));
            }

            double engine = Median(engineRuns), peer = Median(peerRuns);
            output.WriteLine(FormattableString.Invariant($"| {name} | {engine:N0} | {peer:N0} | {engine / peer:F2}× |"));
        }
    }

    private static double Median(List<double> runs)
    {
        runs.Sort();
        return runs[runs.Count / 2];
    }

    private static double EngineRun(int threads, double seconds)
    {
        var engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 4, ReservationsMax = 1 << 16 });
        long now = engine.NowMs;
        int user = engine.CreateUser(1L << 60).Id;
        int[] tokens = new int[threads];
        for (int t = 0; t < threads; t++)
        {
            tokens[t] = engine.CreateToken(new TokenSpec
            {
                UserId = user,
                RemainQuotaUnits = 1L << 60,
                Policies = [new QuotaPolicySpec { QuotaUnits = 1L << 46, Mode = PeriodMode.Daily, AnchorMs = now }],
            }, now).Id;
        }

        return Measure(threads, seconds, t =>
        {
            int token = tokens[t];
            for (int i = 0; i < Batch; i++)
            {
                engine.Settle(engine.Reserve(token, 60, now).Id, 60, now);
            }
        });
    }

    private static double PeerRun(int threads, double seconds)
    {
        var peer = new LockedQuota();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        peer.AddUser(1, 1L << 60);
        for (int t = 0; t < threads; t++)
        {
            peer.AddKey(t + 1, 1, 1L << 60, now, new LockedQuota.Policy(1L << 46));
        }

        return Measure(threads, seconds, t =>
        {
            int key = t + 1;
            for (int i = 0; i < Batch; i++)
            {
                peer.Reserve(key, 60, 0, now, out long id);
                peer.Settle(id, 60, -1, out _, out _);
            }
        });
    }

    /// <summary>Pairs/s of <paramref name="threads"/> threads each running batches for <paramref name="seconds"/>.</summary>
    private static double Measure(int threads, double seconds, Action<int> batch)
    {
        long total = 0;
        using var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            workers[t] = new Thread(() =>
            {
                batch(index); // warm-up batch, not counted
                start.SignalAndWait();
                long count = 0;
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed.TotalSeconds < seconds)
                {
                    batch(index);
                    count += Batch;
                }

                Interlocked.Add(ref total, count);
            });
            workers[t].Start();
        }

        start.SignalAndWait();
        var wall = Stopwatch.StartNew();
        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        return total / wall.Elapsed.TotalSeconds;
    }
}
