// Benchmarks of the quota engine, side by side with the peers a user would otherwise pick.
//   BenchmarkDotNet classes:  dotnet run -c Release --project bench/Engine.Benchmarks -- --filter '*' [--job short]
//   scale seeding:            dotnet run -c Release --project bench/Engine.Benchmarks -- --seed-scale <data dir> <keys> <log rows>
//   load measurements:        dotnet run -c Release --project bench/Engine.Benchmarks -- --load [scaling|peer|writebehind|durable|recovery] [--quick]
//   the engine at scale:      dotnet run -c Release --project bench/Engine.Benchmarks -- --load scale [--keys N] (default 100k and 1M)
// bench/run.sh runs everything and writes bench/results/latest.md.
using System.Globalization;
using BenchmarkDotNet.Running;
using Quota.Benchmarks;

if (args.Length == 4 && args[0] == "--seed-scale")
{
    // bench/scale-admin.sh: --seed-scale <data dir> <keys> <log rows>
    await ScaleSeed.RunAsync(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), Console.Out);
    return 0;
}

if (args.Length > 0 && args[0] == "--load")
{
    bool quick = args.Contains("--quick");
    string what = args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : "all";
    int repeats = quick ? 3 : 5;
    if (what is "all" or "scaling")
    {
        Console.WriteLine("### 2-thread scaling (reserve + settle, wallet + budget + 1 policy)\n");
        LoadRunner.Scaling(quick ? 1 : 3, repeats, Console.Out);
        Console.WriteLine();
    }

    if (what is "all" or "peer")
    {
        Console.WriteLine("### Engine vs the locked peer (same rules), 1 and 2 threads on keys of one user\n");
        PeerScaling.Run(quick ? 1 : 3, repeats, Console.Out);
        Console.WriteLine();
    }

    if (what is "all" or "writebehind")
    {
        Console.WriteLine("### Write-behind at a paced rate: process CPU per reserve + settle pair, log off vs on\n");
        await WriteBehindPaced.RunAsync(quick ? 1.5 : 4, repeats, [10_000, 100_000, 500_000], Console.Out);
        Console.WriteLine();
    }

    if (what is "all" or "durable")
    {
        Console.WriteLine("### Acknowledged reserve + settle pairs per second (each operation awaited)\n");
        await LoadRunner.DurableAsync(quick ? 2 : 5, 3, 1024, Console.Out);
        Console.WriteLine();
    }

    if (what == "scale") // not part of "all": minutes, and gigabytes at 1M keys
    {
        Console.WriteLine("### Engine at scale\n");
        int at = Array.IndexOf(args, "--keys");
        int[] sizes = at > 0 && at + 1 < args.Length ? [int.Parse(args[at + 1], CultureInfo.InvariantCulture)] : [100_000, 1_000_000];
        foreach (int keys in sizes)
        {
            await ScaleRunner.RunAsync(keys, Console.Out);
        }

        return 0;
    }

    if (what is "all" or "recovery")
    {
        Console.WriteLine("### Recovery\n");
        int keys = quick ? 100_000 : 1_000_000;
        long records = quick ? 1_000_000 : 10_000_000;
        await LoadRunner.RecoveryAsync(keys, records, Console.Out);
        Console.WriteLine();
    }

    return 0;
}

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
IEnumerable<BenchmarkDotNet.Reports.Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(PairBenchmarks).Assembly).Run(args);
// BenchmarkDotNet reports a benchmark that threw (in its setup or its body) and still exits 0: fail here instead, so the
// CI smoke catches a broken benchmark or a peer that breaks the engine's rules (LockedQuotaCheck).
int failed = summaries.Sum(s => s.Reports.Count(r => !r.Success) + (s.HasCriticalValidationErrors ? 1 : 0));
if (failed > 0)
{
    Console.Error.WriteLine($"{failed} benchmark(s) failed");
}

return failed > 0 ? 1 : 0;
