using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;
using Quota.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// A real child process (tests/Engine.CrashHarness) runs the persistent engine under concurrent load and prints
/// each acknowledged operation; the test kills it with SIGKILL at a random moment, recovers the directory and
/// checks that every acknowledged change is there exactly once, that saves are whole, that no reservation id was
/// issued twice, and that the wallet's usage equals the charges of every reservation ever made. Several kill cycles
/// reuse one directory, so recovery also recovers from recoveries and from checkpoints cut short.
/// CI runs 3 cycles per durability mode; a soak: QUOTA_CRASH_CYCLES=50 dotnet test --filter CrashTests.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private static readonly EngineOptions ChildEngine = new() { KeysMax = 1 << 16, UsersMax = 8, ReservationsMax = 1 << 16 };
    private readonly TempDirectory directory = new();
    private readonly HashSet<string> issued = [];
    private readonly Dictionary<ReservationId, ReservationView> ledger = [];

    public void Dispose() => directory.Dispose();

    private static int Cycles => int.TryParse(Environment.GetEnvironmentVariable("QUOTA_CRASH_CYCLES"), out int n) ? n : 3;

    [Theory]
    [InlineData(Durability.Durable)]
    [InlineData(Durability.WriteBehind)]
    public async Task KillDashNine_AtRandomMoments_LosesNoAcknowledgedChange(Durability durability)
    {
        var random = new Random(durability == Durability.Durable ? 11 : 23);
        for (int cycle = 0; cycle < Cycles; cycle++)
        {
            List<string> lines = await RunChildAndKillAsync(durability, cycle, TimeSpan.FromMilliseconds(random.Next(300, 1500)));
            await VerifyAsync(durability, lines, cycle);
        }
    }

    private async Task<List<string>> RunChildAndKillAsync(Durability durability, int cycle, TimeSpan runFor)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { HarnessPath(), directory.Path, durability.ToString(), cycle.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start)!;
        var lines = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource();
        Task reader = Task.Run(async () =>
        {
            while (await child.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "ready")
                {
                    ready.TrySetResult();
                }

                lines.Enqueue(line);
            }
        });
        Task stderr = child.StandardError.ReadToEndAsync();
        Task first = await Task.WhenAny(ready.Task, child.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != ready.Task)
        {
            child.Kill(); // never wait on a child that may hang
            await child.WaitForExitAsync();
            Assert.Fail($"the child did not start ({start.FileName} {string.Join(' ', start.ArgumentList)}): {await (Task<string>)stderr}");
        }
        await Task.Delay(runFor);
        child.Kill(); // SIGKILL: no flush, no commit, no snapshot
        await child.WaitForExitAsync();
        await reader;
        output.WriteLine($"cycle {cycle}: killed after {runFor.TotalMilliseconds} ms with {lines.Count} lines");
        return lines.ToList();
    }

    private async Task VerifyAsync(Durability durability, List<string> lines, int cycle)
    {
        long committed = lines.Where(l => l.StartsWith("C ", StringComparison.Ordinal)).Select(l => long.Parse(l[2..], CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
        await using PersistentEngine recovered = PersistentEngine.Open(new PersistenceOptions { DataDir = directory.Path, Engine = ChildEngine, CheckpointInterval = TimeSpan.FromHours(1) });
        output.WriteLine($"cycle {cycle}: {recovered.Recovery}");
        Assert.Null(recovered.Recovery.Corruption);
        Assert.True(recovered.Recovery.LastSequence >= committed, $"recovered through {recovered.Recovery.LastSequence}, but {committed} was committed");
        Assert.Empty(ConservationAudit.Check(recovered.Engine));

        // Lines whose record is certainly durable: every acknowledged one in Durable mode; in WriteBehind those at or
        // before the last sequence the child saw committed.
        string[][] durable = lines.Select(l => l.Split(' ')).Where(p => p[0] is "R" or "S" or "F" or "U" or "K")
            .Where(p => durability == Durability.Durable || long.Parse(p[^1], CultureInfo.InvariantCulture) <= committed).ToArray();
        CheckReservations(recovered.Engine, lines, durable);
        CheckSaves(recovered.Engine, durable);
        CheckWalletAgainstEveryReservationEver(recovered.Engine);

        if (cycle % 2 == 1)
        {
            await recovered.CloseWithoutCheckpointAsync(); // leave a long log for the next recovery
        }
    }

    /// <summary>Every durable reservation line is there with its token, amount and ending; no id was ever issued twice.</summary>
    private void CheckReservations(QuotaEngine engine, List<string> lines, string[][] durable)
    {
        foreach (string[] line in lines.Select(l => l.Split(' ')).Where(p => p[0] == "R"))
        {
            Assert.True(issued.Add(line[1]), $"reservation id {line[1]} was issued twice (across restarts)");
        }

        var reserved = durable.Where(p => p[0] == "R").ToDictionary(p => p[1]);
        foreach (string[] line in durable.Where(p => p[0] is "R" or "S" or "F"))
        {
            Assert.True(ReservationId.TryParse(line[1], out ReservationId id));
            Assert.True(engine.TryReadReservation(id, out ReservationView view), $"acknowledged reservation {id} is missing");
            if (reserved.TryGetValue(line[1], out string[]? r))
            {
                Assert.Equal((int.Parse(r[2], CultureInfo.InvariantCulture), long.Parse(r[3], CultureInfo.InvariantCulture)), (view.TokenId, view.AmountUnits));
            }

            if (line[0] == "S")
            {
                Assert.Equal((ReservationStatus.Settled, long.Parse(line[2], CultureInfo.InvariantCulture)), (view.Status, view.ChargedUnits));
            }
            else if (line[0] == "F")
            {
                Assert.Equal(ReservationStatus.Refunded, view.Status);
            }
        }
    }

    /// <summary>Saves are whole: key 5's budget and policy quota always come from one save; a created key has its policy.</summary>
    private static void CheckSaves(QuotaEngine engine, string[][] durable)
    {
        long now = engine.NowMs;
        TokenView key5 = engine.ReadToken(5, now)!;
        Assert.Equal(key5.RemainQuotaUnits, key5.Policies[0].Spec.QuotaUnits);
        long lastSaved = durable.Where(p => p[0] == "U").Select(p => long.Parse(p[1], CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
        Assert.True(lastSaved == 0 || key5.RemainQuotaUnits >= lastSaved, $"key 5 lost an acknowledged save: {key5.RemainQuotaUnits} < {lastSaved}");
        for (int token = 6; token <= engine.LastTokenId; token++)
        {
            TokenView created = engine.ReadToken(token, now) ?? throw new InvalidOperationException($"a ghost key {token}");
            Assert.Equal(created.RemainQuotaUnits, Assert.Single(created.Policies).Spec.QuotaUnits);
        }

        foreach (string[] line in durable.Where(p => p[0] == "K"))
        {
            Assert.NotNull(engine.ReadToken(int.Parse(line[1], CultureInfo.InvariantCulture), now));
        }
    }

    /// <summary>
    /// The wallet's usage equals the charges of every reservation ever made. The table is read after every recovery and
    /// a run makes fewer reservations than it holds, so every reservation is seen at least once before its record is
    /// recycled; the newest sighting of each id is its ending.
    /// </summary>
    private void CheckWalletAgainstEveryReservationEver(QuotaEngine engine)
    {
        ReservationTable table = engine.Reservations;
        for (int slot = 0; slot < table.Capacity; slot++)
        {
            long word = table.StateWordOf(slot);
            if (ReservationTable.StateOf(word) != ReservationState.Free && engine.TryReadReservation(table.IdOf(slot, word), out ReservationView view))
            {
                ledger[view.Id] = view;
            }
        }

        long charged = ledger.Values.Where(v => v.Status is ReservationStatus.Settled or ReservationStatus.Expired).Sum(v => v.ChargedUnits);
        Assert.Equal(charged, engine.ReadUser(1)!.UsedQuotaUnits);
    }

    private static string HarnessPath()
    {
        // tests/Engine.Tests/bin/<Configuration>/net10.0/ → tests/Engine.CrashHarness/bin/<Configuration>/net10.0/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = output.Parent!.Name;
        string path = Path.GetFullPath(Path.Combine(output.FullName, "..", "..", "..", "..", "Engine.CrashHarness", "bin", configuration, output.Name, "Engine.CrashHarness.dll"));
        Assert.True(File.Exists(path), $"build the crash harness first (dotnet build Engine.sln): {path}");
        return path;
    }
}
