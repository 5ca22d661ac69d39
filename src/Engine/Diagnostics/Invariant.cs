namespace Quota.Engine.Diagnostics;

/// <summary>
/// Always-on O(1) checks of programmer errors (STYLE.md tier 2). A broken invariant means the books can no
/// longer be trusted, so the process stops instead of carrying on in a wrong state.
/// </summary>
internal static class Invariant
{
    public static void Assert(bool condition, string why)
    {
        if (!condition)
        {
            Environment.FailFast("Quota engine invariant violated: " + why);
        }
    }
}
