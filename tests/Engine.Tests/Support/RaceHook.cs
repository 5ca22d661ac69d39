using Quota.Engine.Diagnostics;

namespace Quota.Engine.Tests.Support;

/// <summary>Runs an action once, on this thread, when the engine reaches a named point inside a cold transition.</summary>
internal static class RaceHook
{
    public static IDisposable At(RaceHooks.Point point, Action action)
    {
        bool fired = false;
        RaceHooks.Set(reached =>
        {
            if (reached == point && !fired)
            {
                fired = true;
                action();
            }
        });
        return new Reset();
    }

    private sealed class Reset : IDisposable
    {
        public void Dispose() => RaceHooks.Set(null);
    }
}
