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

        cancellation.WaitHandle.WaitOne(worked * ((1 - cpuShare) / cpuShare));
        cancellation.ThrowIfCancellationRequested();
        sliceStarted = time.GetTimestamp();
    }
}
