using Quota.Engine.Diagnostics;

namespace Quota.Engine.Persistence;

/// <summary>
/// The engine's delta sink backed by a durable log: requests append into a lock-free ring (never blocking, never
/// allocating); a pump on its own thread drains the ring into log entries and group-commits.
/// <para>Group commit: the pump commits every CommitInterval, and back to back while anyone awaits durability, so
/// each fsync acknowledges everyone who arrived during the previous one. It runs on a dedicated thread: a busy thread
/// pool (thousands of requests) must not be able to delay the commit that would release them.</para>
/// <para>Room rule (invariant 9: a finish never waits). A settle, refund or expiry appends exactly one record, and at
/// most <c>ReservationsMax</c> reservations are open, so the ring always keeps that many records free for them:
/// a reserve is admitted only while the free room, less what cold operations promised, exceeds
/// <c>ReservationsMax</c> + <see cref="ReserveSlack"/> (reserves racing past the check) + <see cref="ColdRoom"/>; a cold
/// operation (save, reset, rollover, keep-alive, wallet change) first promises its records and is refused when the
/// promise would cut into the room kept for finishes and racing reserves.</para>
/// <para>Faults: a failing log device turns the writer unhealthy with the error as context; new reservations are
/// then refused (<see cref="HasCapacity"/> false → LogFull) while in-flight requests finish in memory and wait in the
/// ring; the pump keeps retrying and the writer heals when a commit succeeds. Durable waiters are never released
/// by a failed commit.</para>
/// </summary>
internal sealed class DeltaLogWriter : IDeltaSink, IAsyncDisposable
{
    /// <summary>Reserves that may pass the room check at once before their records show in the ring.</summary>
    public const int ReserveSlack = 4096;
    /// <summary>Room only cold operations may use: reserves stop before it is reached.</summary>
    public const int ColdRoom = 4096;
    private const int DrainBufferBytes = 256 * 1024;
    /// <summary>How long an idle pump sleeps when no append wakes it (a safety net: every append after idling wakes it).</summary>
    private static readonly TimeSpan DefaultIdleWaitMax = TimeSpan.FromSeconds(1);
    private readonly TimeSpan idleWaitMax;

    private readonly IDeltaLog log;
    private readonly DeltaRing ring;
    private readonly long finishRoom;
    private long promised;
    private readonly TimeSpan commitInterval;
    private readonly byte[] drainBuffer = new byte[DrainBufferBytes];
    private readonly Lock pumpGate = new();
    // Spin count 0: the pump wakes every CommitInterval (200 times a second at 5 ms), and a wait that spins before it
    // blocks burns the core that the requests and FASTER's own I/O need (it was most of the idle pump's cost).
    private readonly ManualResetEventSlim wake = new(false, spinCount: 0);
    private TaskCompletionSource nextCommit = NewCommitSignal();
    private Thread? pump;
    private volatile bool stopping;
    private int commitRequested;
    private int pumpIdle;
    private long pumpRounds;
    private long committedThrough;
    private long enqueuedThrough;
    private long ringFullCount;
    private volatile string? fault;

    /// <param name="log">The device the pump drains into and commits.</param>
    /// <param name="reservationsMax">The engine's reservation bound: the ring keeps that much room for finishes.</param>
    /// <param name="firstSequence">The sequence number of the first record appended.</param>
    /// <param name="commitInterval">How often the pump commits while there is something to commit.</param>
    /// <param name="idleWaitMax">How long an idle pump sleeps unless an append wakes it (tests: infinite, so a missed wake-up shows).</param>
    public DeltaLogWriter(IDeltaLog log, int reservationsMax, long firstSequence, TimeSpan commitInterval, TimeSpan? idleWaitMax = null)
    {
        this.idleWaitMax = idleWaitMax ?? DefaultIdleWaitMax;
        this.log = log;
        int capacity = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(2 * (reservationsMax + ReserveSlack + ColdRoom)));
        ring = new DeltaRing(capacity, firstSequence);
        finishRoom = reservationsMax;
        this.commitInterval = commitInterval;
        committedThrough = firstSequence - 1;
        enqueuedThrough = firstSequence - 1;
    }

    public bool HasCapacity => fault is null && FreeRoom - Volatile.Read(ref promised) > finishRoom + ReserveSlack + ColdRoom;

    private long FreeRoom => ring.Capacity - ring.Count;

    public bool TryPromise(int records)
    {
        long after = Interlocked.Add(ref promised, records);
        if (fault is null && FreeRoom - after >= finishRoom + ReserveSlack)
        {
            return true;
        }

        Interlocked.Add(ref promised, -records);
        return false;
    }

    public void EndPromise(int records) => Interlocked.Add(ref promised, -records);

    /// <summary>Every change up to this sequence number has been appended.</summary>
    public long AppendedThrough => ring.AppendedThrough;

    /// <summary>Every change up to this sequence number is durable.</summary>
    public long CommittedThrough => Volatile.Read(ref committedThrough);

    /// <summary>How often an append found the ring full and had to wait for the pump (0 by construction; watched as a metric).</summary>
    public long RingFullCount => Interlocked.Read(ref ringFullCount);

    public long RingDepth => ring.Count;

    /// <summary>Whether the pump sleeps until the next append (tests).</summary>
    internal bool IsIdle => Volatile.Read(ref pumpIdle) != 0;

    /// <summary>Times the pump woke up (tests: an idle pump does not).</summary>
    internal long PumpRounds => Interlocked.Read(ref pumpRounds);

    /// <summary>Null while healthy; otherwise what failed, with context.</summary>
    public string? Fault => fault;

    public void Append(in DeltaRecord record)
    {
        if (!ring.TryAppend(record))
        {
            AppendSlow(record, null);
        }

        if (Volatile.Read(ref pumpIdle) != 0)
        {
            WakeIdlePump();
        }
    }

    public void Append(in DeltaRecord record, byte[] payload)
    {
        if (!ring.TryAppend(record, payload))
        {
            AppendSlow(record, payload);
        }

        if (Volatile.Read(ref pumpIdle) != 0)
        {
            WakeIdlePump();
        }
    }

    /// <summary>The first append after the pump went idle wakes it (one append does; the others see the flag cleared).</summary>
    private void WakeIdlePump()
    {
        if (Interlocked.Exchange(ref pumpIdle, 0) != 0)
        {
            wake.Set();
        }
    }

    /// <summary>
    /// Unreachable while the room rule holds (every append is a finish or was promised); kept as the last line of
    /// defence: waits for the pump, and a stalled pump stops the process rather than lose a record.
    /// </summary>
    private void AppendSlow(in DeltaRecord record, byte[]? payload)
    {
        Interlocked.Increment(ref ringFullCount);
        var spin = default(SpinWait);
        for (int attempt = 0; attempt < 200_000; attempt++)
        {
            spin.SpinOnce(sleep1Threshold: 20);
            if (ring.TryAppend(record, payload))
            {
                return;
            }
        }

        Invariant.Assert(false, "the delta ring stayed full: the log pump is stalled");
    }

    /// <summary>Starts the pump thread.</summary>
    public void Start()
    {
        pump = new Thread(PumpLoop) { IsBackground = true, Name = "quota-delta-log-pump" };
        pump.Start();
    }

    /// <summary>
    /// Commits every CommitInterval while there is something to commit, at once when a durable waiter asks, and sleeps
    /// after an interval that brought nothing until the next append wakes it: an idle engine costs no wake-ups, and the
    /// first change after a pause is committed at once, so a write-behind change is still durable within one interval.
    /// </summary>
    private void PumpLoop()
    {
        bool idle = false;
        while (!stopping)
        {
            wake.Wait(idle ? idleWaitMax : commitInterval); // the interval, or sooner when a durable waiter (or, idle, an append) asks
            wake.Reset();
            Interlocked.Increment(ref pumpRounds);
            Volatile.Write(ref pumpIdle, 0);
            Volatile.Write(ref commitRequested, 0);
            idle = !FlushCore() && EnterIdle();
        }
    }

    /// <summary>
    /// Marks the pump idle unless something arrived meanwhile. An append publishes its record (a full fence: the ring's
    /// CAS) before it reads the flag, and the pump sets the flag (then a full fence) before it looks at the ring: so either
    /// the pump sees the record and stays awake, or the append sees the flag and wakes the pump.
    /// </summary>
    private bool EnterIdle()
    {
        Volatile.Write(ref pumpIdle, 1);
        Interlocked.MemoryBarrier();
        if (ring.Count == 0 && Volatile.Read(ref commitRequested) == 0)
        {
            return true;
        }

        Volatile.Write(ref pumpIdle, 0);
        return false;
    }

    /// <summary>Drains the ring into the log and commits, on the calling thread (the pump, shutdown, checkpoints, tests).</summary>
    public void Flush() => FlushCore();

    /// <summary><see cref="Flush"/>; false when there was nothing to commit.</summary>
    private bool FlushCore()
    {
        lock (pumpGate)
        {
            try
            {
                DrainIntoLog();
                long target = Volatile.Read(ref enqueuedThrough);
                if (target <= CommittedThrough)
                {
                    return false; // nothing new: committing would only burn a core (FASTER returns at once when nothing is new)
                }

                log.Commit();
                Volatile.Write(ref committedThrough, target);
                fault = null;
                Interlocked.Exchange(ref nextCommit, NewCommitSignal()).TrySetResult();
                return true;
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // An environment fault, recorded with context at this one boundary; the pump retries (it stays awake:
                // "true", so the next interval tries again instead of sleeping until an append).
                fault = $"delta log commit failed at address {log.TailAddress}: {exception.GetType().Name}: {exception.Message}";
                return true;
            }
        }
    }

    /// <summary><see cref="Flush"/> for async callers.</summary>
    public Task FlushAsync() => Task.Run(Flush);

    /// <summary>Moves what was appended so far into the log (one entry per drained batch).</summary>
    private void DrainIntoLog()
    {
        long last = ring.AppendedThrough;
        while (true)
        {
            int bytes = ring.Drain(drainBuffer, out long lastSequence);
            if (bytes == 0)
            {
                return;
            }

            var spin = default(SpinWait);
            while (!log.TryEnqueue(drainBuffer.AsSpan(0, bytes), out _))
            {
                spin.SpinOnce(); // FASTER's in-memory pages are full until its flush catches up
            }

            Volatile.Write(ref enqueuedThrough, lastSequence);
            if (lastSequence >= last)
            {
                return;
            }
        }
    }

    /// <summary>Completes when every change appended so far is durable.</summary>
    public ValueTask WhenDurableAsync(CancellationToken cancellationToken) => WhenCommittedAsync(AppendedThrough, cancellationToken);

    /// <summary>Completes when every change up to <paramref name="sequence"/> is durable.</summary>
    public async ValueTask WhenCommittedAsync(long sequence, CancellationToken cancellationToken = default)
    {
        while (CommittedThrough < sequence)
        {
            Task signal = Volatile.Read(ref nextCommit).Task;
            if (CommittedThrough >= sequence)
            {
                return;
            }

            if (Interlocked.Exchange(ref commitRequested, 1) == 0)
            {
                wake.Set(); // at most one pending request: the pump batches every waiter into one commit
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the pump and commits what is left (FASTER's Dispose does not commit). Flush still works after.</summary>
    public Task StopAsync()
    {
        if (!stopping)
        {
            stopping = true;
            wake.Set();
            pump?.Join();
        }

        return FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        wake.Dispose();
    }

    private static TaskCompletionSource NewCommitSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
