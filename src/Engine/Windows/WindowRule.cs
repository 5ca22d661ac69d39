using NodaTime;
using NodaTime.TimeZones;
using Quota.Engine.Model;

namespace Quota.Engine.Windows;

/// <summary>
/// The immutable, pre-resolved description of how a policy's windows tile time: the anchor instant, and
/// either a fixed length (5 h, custom) or a calendar step (day, week, month) in an IANA zone.
/// Built once when a policy is saved, so window math never parses ids or looks zones up.
/// </summary>
internal sealed class WindowRule
{
    public const long FiveHoursMs = 5L * 60 * 60 * 1000;
    /// <summary>Shortest custom window of a spend (quota) policy.</summary>
    public const int CustomMinutesMin = 10;
    /// <summary>Shortest custom window of a tokens or requests policy (RPM / TPM limits).</summary>
    public const int RateCustomMinutesMin = 1;
    public const int CustomMinutesMax = 525_600;
    /// <summary>Anchors lie in the years 2000–2099 (2000-01-01T00:00Z … 2100-01-01T00:00Z inclusive): window math is total there.</summary>
    public const long AnchorMinMs = 946_684_800_000;
    public const long AnchorMaxMs = 4_102_444_800_000;
    /// <summary>Window math reads a later clock as this instant (9000-01-01Z): every window around it is representable.</summary>
    public const long ClockMaxMs = 221_845_392_000_000;

    /// <summary>A skipped local time maps to the first instant after the gap; an ambiguous one to the earlier instant.</summary>
    internal static readonly ZoneLocalMappingResolver Resolver =
        Resolvers.CreateMappingResolver(Resolvers.ReturnEarlier, Resolvers.ReturnStartOfIntervalAfter);

    public PeriodMode Mode { get; }
    public long AnchorMs { get; }
    /// <summary>Window length for fixed modes; 0 for calendar modes.</summary>
    public long FixedLengthMs { get; }
    public DateTimeZone Zone { get; }
    /// <summary>The anchor in the zone's local time: calendar boundaries keep its time of day, weekday and day of month.</summary>
    internal LocalDateTime AnchorLocal { get; }

    private WindowRule(PeriodMode mode, long anchorMs, long fixedLengthMs, DateTimeZone zone)
    {
        Mode = mode;
        AnchorMs = anchorMs;
        FixedLengthMs = fixedLengthMs;
        Zone = zone;
        AnchorLocal = Instant.FromUnixTimeMilliseconds(anchorMs).InZone(zone).LocalDateTime;
    }

    /// <summary>Builds a rule; the caller has validated the spec (see <see cref="SpecValidation"/>).</summary>
    public static WindowRule Create(PeriodMode mode, int customMinutes, long anchorMs, string timeZone)
    {
        DateTimeZone zone = TryFindZone(timeZone)
            ?? throw new ArgumentException($"unknown time zone '{timeZone}'", nameof(timeZone));
        long fixedLengthMs = mode switch
        {
            PeriodMode.Preset5h => FiveHoursMs,
            PeriodMode.Custom => customMinutes * 60_000L,
            _ => 0,
        };
        return new WindowRule(mode, anchorMs, fixedLengthMs, zone);
    }

    public static DateTimeZone? TryFindZone(string? timeZone) =>
        string.IsNullOrEmpty(timeZone) ? null : DateTimeZoneProviders.Tzdb.GetZoneOrNull(timeZone);
}
