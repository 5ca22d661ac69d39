using Quota.Engine.Persistence;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// The log pump sleeps after an interval that brought nothing and is woken by the next append: an idle engine costs no
/// wake-ups, and a change after a pause is still committed (here with no timed safety net, so a missed wake-up hangs
/// the round and fails it instead of hiding as latency).
/// </summary>
public sealed class IdlePumpTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20); // liveness on a loaded machine, not speed

    [Fact]
    public async Task AnIdlePump_SleepsUntilTheNextAppend_AndCommitsIt()
    {
        var log = new MemoryLog();
        await using var writer = new DeltaLogWriter(log, reservationsMax: 64, firstSequence: 1, TimeSpan.FromMilliseconds(1), idleWaitMax: Timeout.InfiniteTimeSpan);
        writer.Start();
        await WaitUntilAsync(() => writer.IsIdle);

        long rounds = writer.PumpRounds;
        await Task.Delay(300);
        Assert.Equal(rounds, writer.PumpRounds); // asleep: an interval-driven pump would have woken hundreds of times
        Assert.Equal(0, log.Commits);

        writer.Append(DeltaRecord.RunStarted(1, 1_000));
        await WaitUntilAsync(() => writer.CommittedThrough >= 1);
        Assert.Equal(1, log.Commits);
    }

    [Fact]
    public async Task AppendsRacingThePumpGoingIdle_AreAllCommitted()
    {
        var log = new MemoryLog();
        await using var writer = new DeltaLogWriter(log, reservationsMax: 64, firstSequence: 1, TimeSpan.FromMilliseconds(1), idleWaitMax: Timeout.InfiniteTimeSpan);
        writer.Start();
        var random = new Random(7);
        long sequence = 0;
        for (int round = 0; round < 300; round++)
        {
            int pause = random.Next(0, 4); // around the interval: the append lands before, during and after the pump idles
            if (pause > 0)
            {
                Thread.Sleep(pause);
            }

            int appends = random.Next(1, 4);
            await Task.WhenAll(Enumerable.Range(0, appends).Select(_ => Task.Run(() => writer.Append(DeltaRecord.RunStarted(1, 1_000)))));
            sequence += appends;
            long expected = sequence;
            await WaitUntilAsync(() => writer.CommittedThrough >= expected);
        }

        Assert.Equal(sequence, writer.CommittedThrough);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the pump did not get there: a missed wake-up");
            await Task.Delay(1);
        }
    }

    /// <summary>An in-memory log that counts commits (the writer's behaviour, not FASTER's, is under test).</summary>
    private sealed class MemoryLog : IDeltaLog
    {
        private long tail = 64;
        private int commits;

        public int Commits => Volatile.Read(ref commits);

        public long BeginAddress => 64;

        public long TailAddress => Interlocked.Read(ref tail);

        public bool TryEnqueue(ReadOnlySpan<byte> entry, out long address)
        {
            address = Interlocked.Add(ref tail, entry.Length) - entry.Length;
            return true;
        }

        public void Commit() => Interlocked.Increment(ref commits);

        public IEnumerable<LogEntry> Scan(long fromAddress) => [];

        public void TruncateUntil(long address)
        {
        }

        public void Dispose()
        {
        }
    }
}
