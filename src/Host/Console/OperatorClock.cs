using System.Globalization;
using NodaTime;
using NodaTime.Text;
using NodaTime.TimeZones;
using Quota.Engine.Windows;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The operator's time zone (the browser's, reported by console.js or the sign-in form in the <c>quota.tz</c> cookie,
/// validated against the IANA database; UTC until known) and the culture-formatted display of instants in it.
/// </summary>
public sealed class OperatorClock
{
    public const string CookieName = "quota.tz";
    private static readonly LocalDateTimePattern InputPattern = LocalDateTimePattern.CreateWithInvariantCulture("uuuu'-'MM'-'dd'T'HH':'mm");

    private OperatorClock(DateTimeZone zone) => Zone = zone;

    public DateTimeZone Zone { get; }

    public string ZoneId => Zone.Id;

    public static OperatorClock For(HttpContext? context) =>
        new(WindowRule.TryFindZone(context?.Request.Cookies[CookieName]) ?? DateTimeZone.Utc);

    /// <summary>Stores the browser's zone when it is a valid IANA id.</summary>
    public static void Remember(HttpContext context, string? zone)
    {
        if (WindowRule.TryFindZone(zone) is not null)
        {
            context.Response.Cookies.Append(CookieName, zone!, new CookieOptions
            {
                SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, MaxAge = TimeSpan.FromDays(365), IsEssential = true,
            });
        }
    }

    /// <summary>An instant (UTC Unix ms) as local date and time in the operator's zone, formatted for the UI culture.</summary>
    public string Format(long unixMs) => Format(unixMs, Zone);

    public static string Format(long unixMs, DateTimeZone zone) =>
        Instant.FromUnixTimeMilliseconds(unixMs).InZone(zone).ToDateTimeUnspecified().ToString("g", CultureInfo.CurrentCulture);

    /// <summary>The value of a datetime-local input for an instant, in <paramref name="zone"/>.</summary>
    public static string ToInput(long unixMs, DateTimeZone zone) => InputPattern.Format(Instant.FromUnixTimeMilliseconds(unixMs).InZone(zone).LocalDateTime);

    /// <summary>Reads a datetime-local value as a local time in <paramref name="zone"/>; null if it is not one.</summary>
    public static long? FromInput(string? text, DateTimeZone zone)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        ParseResult<LocalDateTime> parsed = InputPattern.Parse(text.Trim().Length > 16 ? text.Trim()[..16] : text.Trim());
        return parsed.Success ? zone.ResolveLocal(parsed.Value, Resolvers.LenientResolver).ToInstant().ToUnixTimeMilliseconds() : null;
    }
}
