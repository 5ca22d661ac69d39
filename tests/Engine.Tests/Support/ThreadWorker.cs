using System.Collections.Concurrent;

namespace Quota.Engine.Tests.Support;

/// <summary>One dedicated thread that runs the actions given to it, in order: thread-static state persists between them.</summary>
internal sealed class ThreadWorker : IDisposable
{
    private readonly BlockingCollection<(Action Action, TaskCompletionSource Done)> work = [];
    private readonly Thread thread;

    public ThreadWorker()
    {
        thread = new Thread(() =>
        {
            foreach ((Action action, TaskCompletionSource done) in work.GetConsumingEnumerable())
            {
                try
                {
                    action();
                    done.SetResult();
                }
                catch (Exception exception)
                {
                    done.SetException(exception);
                }
            }
        }) { IsBackground = true };
        thread.Start();
    }

    public void Run(Action action)
    {
        var done = new TaskCompletionSource();
        work.Add((action, done));
        done.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        work.CompleteAdding();
        thread.Join();
        work.Dispose();
    }
}
