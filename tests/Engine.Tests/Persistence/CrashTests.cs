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
/// checks that every acknowledged change is there exactly once and the books balance. Several kill cycles reuse
/// one directory, so recovery also recovers from recoveries and from checkpoints cut short.
/// CI runs 3 cycles per durability mode; a soak: QUOTA_CRASH_CYCLES=50 dotnet test --filter CrashTests.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private static readonly EngineOptions ChildEngine = new() { KeysMax = 64, UsersMax = 8, ReservationsMax = 1 << 16 };
    private readonly TempDirectory directory = new();

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

        if (durability == Durability.Durable)
        {
            CheckEveryAcknowledgedLine(recovered.Engine, lines);
        }

        if (cycle % 2 == 1)
        {
            await recovered.CloseWithoutCheckpointAsync(); // leave a long log for the next recovery
        }
    }

    /// <summary>Durable: every acknowledged reserve exists; every acknowledged settle/refund ended it that way, once.</summary>
    private static void CheckEveryAcknowledgedLine(QuotaEngine engine, List<string> lines) // lines of one cycle; the table holds all
    {
        foreach (string[] line in lines.Select(l => l.Split(' ')).Where(p => p[0] is "R" or "S" or "F" && p.Length >= 2))
        {
            Assert.True(ReservationId.TryParse(line[1], out ReservationId id));
            long word = engine.Reservations.StateWordOf(id.Slot);
            Assert.True(ReservationTable.SequenceOf(word) == id.Sequence, $"acknowledged reservation {id} is missing");
            ReservationState state = ReservationTable.StateOf(word);
            switch (line[0])
            {
                case "R":
                    Assert.NotEqual(ReservationState.Free, state);
                    break;
                case "S":
                    Assert.Equal(ReservationState.Settled, state);
                    Assert.Equal(long.Parse(line[2], CultureInfo.InvariantCulture), engine.Reservations[id.Slot].ChargedUnits);
                    break;
                default:
                    Assert.Equal(ReservationState.Refunded, state);
                    break;
            }
        }

        long charged = 0;
        for (int slot = 0; slot < engine.Reservations.Capacity; slot++)
        {
            ReservationState state = ReservationTable.StateOf(engine.Reservations.StateWordOf(slot));
            charged += state is ReservationState.Settled or ReservationState.Expired ? engine.Reservations[slot].ChargedUnits : 0;
        }

        int reused = Enumerable.Range(0, engine.Reservations.Capacity).Count(slot => ReservationTable.SequenceOf(engine.Reservations.StateWordOf(slot)) > 1);
        int used = Enumerable.Range(0, engine.Reservations.Capacity).Count(slot => ReservationTable.StateOf(engine.Reservations.StateWordOf(slot)) != ReservationState.Free);
        string detail = string.Join("; ", Enumerable.Range(0, engine.Reservations.Capacity)
            .Where(slot => ReservationTable.SequenceOf(engine.Reservations.StateWordOf(slot)) > 1).Take(6)
            .Select(slot => $"{slot}:{ReservationTable.SequenceOf(engine.Reservations.StateWordOf(slot))}/{ReservationTable.StateOf(engine.Reservations.StateWordOf(slot))}"));
        int maxSlot = Enumerable.Range(0, engine.Reservations.Capacity).Where(slot => ReservationTable.StateOf(engine.Reservations.StateWordOf(slot)) != ReservationState.Free).DefaultIfEmpty(-1).Max();
        Assert.True(charged == engine.ReadUser(1)!.UsedQuotaUnits, $"[{detail}] max slot {maxSlot} wallet used {engine.ReadUser(1)!.UsedQuotaUnits} ≠ charged {charged}; records in use {used}, reused {reused}, cursor {engine.Reservations.Cursor}");
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
