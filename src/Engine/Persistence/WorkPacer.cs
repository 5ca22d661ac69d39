namespace Quota.Engine.Persistence;

/// <summary>
/// Keeps a long background job (a checkpoint) to a share of one core: the job calls <see cref="Step"/> often, and after
/// every slice of work it rests in proportion (half a core: a 20 ms slice, then 20 ms of rest). A rest ends early, and the
/// job stops (<see cref="OperationCanceledException"/>), when <paramref name="cancellation"/> is cancelled.
/// </summary>
internal sealed class WorkPacer(TimeProvider time, double cpuShare, CancellationToken cancellation)
{
    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(20);
    private long sliceStarted = time.GetTimestamp();

    public void Step()
    {
        cancellation.ThrowIfCancellationRequested();
        TimeSpan worked = time.GetElapsedTime(sliceStarted);
        if (worked < Slice || cpuShare >= 1)
        {
            return;
        }

        Rest(worked * ((1 - cpuShare) / cpuShare));
    }

    /// <summary>
    /// Collects what the job dropped (a checkpoint partition: long-lived garbage that would otherwise pile up until the
    /// heap held the whole world again) with a background collection, which stops no thread, and rests until it has
    /// finished (at most <see cref="CollectWaitMax"/>).
    /// </summary>
    public void CollectDropped()
    {
        long before = GC.GetGCMemoryInfo(GCKind.Background).Index;
        GC.Collect(2, GCCollectionMode.Forced, blocking: false);
        for (int rest = 0; rest < CollectWaitMax / CollectPoll && GC.GetGCMemoryInfo(GCKind.Background).Index == before; rest++)
        {
            Rest(CollectPoll);
        }
    }

    private static readonly TimeSpan CollectPoll = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan CollectWaitMax = TimeSpan.FromSeconds(5);

    private void Rest(TimeSpan length)
    {
        cancellation.WaitHandle.WaitOne(length);
        cancellation.ThrowIfCancellationRequested();
        sliceStarted = time.GetTimestamp();
    }
}
