namespace Quota.Engine.Diagnostics;

/// <summary>
/// Always-on O(1) checks of programmer errors (the second of three error tiers: expected outcomes are result enums, environment faults exceptions). A broken invariant means the books can no
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
