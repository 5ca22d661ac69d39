using System.Globalization;
using System.Text.Json;

namespace Quota.Ctl.Cli;

/// <summary>How numbers, times and fields of the API's JSON read in a table (culture-neutral, UTC).</summary>
internal static class Format
{
    public static string Units(long units) => units.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Unix seconds as ISO 8601 UTC; -1 and 0 read as "never" / "-".</summary>
    public static string Time(long unixSeconds) => unixSeconds switch
    {
        -1 => "never",
        0 => "-",
        _ => DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
    };

    public static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString() ?? "",
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            _ => value.GetRawText(),
        } : "";

    public static long Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;

    public static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.True;

    public static IEnumerable<JsonElement> Items(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Array ? value.EnumerateArray() : [];

    /// <summary>"daily 15/100" per enabled policy: what a key has spent of each window.</summary>
    public static string PolicySummary(JsonElement token)
    {
        var parts = new List<string>();
        foreach (JsonElement policy in Items(token, "quota_policies"))
        {
            if (Flag(policy, "enabled"))
            {
                parts.Add($"{Text(policy, "period_mode")} {Units(Number(policy, "used_quota"))}/{Units(Number(policy, "quota"))}");
            }
        }

        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }
}
