using System.Globalization;
using System.Resources;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// Every string the console shows, from Console/Resources/Strings*.resx in the request's UI culture (set by the
/// request-localization middleware). A missing name renders as [name]; tests check that every name used in the
/// console exists in Strings.resx and that every language's file has every name of it (LanguageResourceTests).
/// </summary>
public static class T
{
    private static readonly ResourceManager Resources = new("Quota.Host.Console.Resources.Strings", typeof(T).Assembly);

    public static string Get(string name) => Resources.GetString(name, CultureInfo.CurrentUICulture) ?? $"[{name}]";

    public static string Format(string name, params object?[] values) => string.Format(CultureInfo.CurrentCulture, Get(name), values);

    /// <summary>Quota units, grouped for the culture (1,234,567).</summary>
    public static string N(long value) => value.ToString("N0", CultureInfo.CurrentCulture);

    /// <summary>A whole percentage for bars and labels.</summary>
    public static string Percent(long part, long whole) => whole <= 0 ? "0" : Math.Clamp(part * 100.0 / whole, 0, 100).ToString("0.#", CultureInfo.InvariantCulture);
}
