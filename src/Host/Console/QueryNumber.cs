using System.Globalization;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// Reads a console page's numeric query value (page, key or user filter). A bound <c>int?</c> query parameter throws
/// on text or an out-of-range number, which answered a hand-edited address with a 500; here such a value counts as
/// absent, so the page shows its default (page 1, no filter).
/// </summary>
internal static class QueryNumber
{
    public static int? Parse(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;
}
