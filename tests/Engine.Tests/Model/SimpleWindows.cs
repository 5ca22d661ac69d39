using Quota.Engine.Model;

namespace Quota.Engine.Tests.Model;

/// <summary>
/// Window math written the slow, obvious way, independently of src/Engine/Windows: it steps window by window
/// from the anchor and resolves local times with the BCL's TimeZoneInfo rather than NodaTime.
/// </summary>
internal static class SimpleWindows
{
    public static (long StartMs, long EndMs) Compute(QuotaPolicySpec spec, long nowMs)
    {
        long anchor = spec.AnchorMs;
        if (spec.Mode is PeriodMode.Preset5h or PeriodMode.Custom)
        {
            long length = spec.Mode == PeriodMode.Preset5h ? 5 * 3_600_000L : spec.CustomMinutes * 60_000L;
            long start = anchor;
            while (start + length <= nowMs)
            {
                start += length;
            }

            return (start, start + length);
        }

        var zone = TimeZoneInfo.FindSystemTimeZoneById(spec.TimeZone);
        DateTime anchorLocal = TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(anchor), zone).DateTime;
        int k = 0;
        while (nowMs >= anchor && Boundary(spec.Mode, zone, anchor, anchorLocal, k + 1) <= nowMs)
        {
            k++;
        }

        return (Boundary(spec.Mode, zone, anchor, anchorLocal, k), Boundary(spec.Mode, zone, anchor, anchorLocal, k + 1));
    }

    private static long Boundary(PeriodMode mode, TimeZoneInfo zone, long anchor, DateTime anchorLocal, int k)
    {
        if (k == 0)
        {
            return anchor;
        }

        DateTime local = mode switch
        {
            PeriodMode.Daily => anchorLocal.AddDays(k),
            PeriodMode.Weekly => anchorLocal.AddDays(7 * k),
            _ => anchorLocal.AddMonths(k), // clamps to the month's end, from the anchor's day
        };
        return ToUtcMs(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), zone);
    }

    private static long ToUtcMs(DateTime local, TimeZoneInfo zone)
    {
        if (zone.IsInvalidTime(local))
        {
            // Walk out of the spring-forward gap minute by minute: gaps end on a minute, and that end is the
            // first valid instant after the skipped local time.
            local = local.AddTicks(-(local.Ticks % TimeSpan.TicksPerMinute));
            while (zone.IsInvalidTime(local))
            {
                local = local.AddMinutes(1);
            }
        }

        if (zone.IsAmbiguousTime(local))
        {
            TimeSpan larger = zone.GetAmbiguousTimeOffsets(local).Max(); // the earlier instant has the larger offset
            return new DateTimeOffset(local, larger).ToUnixTimeMilliseconds();
        }

        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone)).ToUnixTimeMilliseconds();
    }
}
