namespace Quota.Engine.Windows;

/// <summary>A half-open interval <c>[StartMs, EndMs)</c> in UTC Unix milliseconds.</summary>
internal readonly record struct Window(long StartMs, long EndMs)
{
    public bool Contains(long nowMs) => StartMs <= nowMs && nowMs < EndMs;
}
