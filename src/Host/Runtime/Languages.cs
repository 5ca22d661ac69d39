using Microsoft.Net.Http.Headers;

namespace Quota.Host.Runtime;

/// <summary>
/// The languages the host speaks — the console, the key holder's page, the relay's and quota API's refusal messages,
/// and the log's sentences — and the one rule that picks a reader's language from <c>Accept-Language</c>, so a
/// header reads the same to the console and to the APIs (docs/api.md "Languages").
/// </summary>
public static class Languages
{
    public const string Default = "en";

    /// <summary>Culture names, in the order of the console's language switch; each has a Strings.{name}.resx.</summary>
    public static readonly string[] Names = [Default, "zh-CN", "zh-TW", "fr", "ja", "ru", "vi"];

    /// <summary>The language's own name, for the switch (each shown in itself).</summary>
    public static string NativeName(string name) => name switch
    {
        "zh-CN" => "简体中文",
        "zh-TW" => "繁體中文",
        "fr" => "Français",
        "ja" => "日本語",
        "ru" => "Русский",
        "vi" => "Tiếng Việt",
        _ => "English",
    };

    /// <summary>
    /// The reader's language: the highest-quality tag (ties in header order) that names one of <see cref="Names"/>,
    /// else <see cref="Default"/>. A region picks its language (fr-CA → fr, en-GB → en); Chinese is Traditional for
    /// Hant, TW, HK and MO and Simplified otherwise. Tags with q=0 and the wildcard are ignored.
    /// </summary>
    public static string FromAcceptLanguage(string? header) => Match(header) ?? Default;

    /// <summary>As <see cref="FromAcceptLanguage"/>, but null when no tag names a language the host speaks.</summary>
    public static string? Match(string? header)
    {
        if (string.IsNullOrWhiteSpace(header) || !StringWithQualityHeaderValue.TryParseList([header], out IList<StringWithQualityHeaderValue>? tags))
        {
            return null;
        }

        string? best = null;
        double bestQuality = 0;
        foreach (StringWithQualityHeaderValue tag in tags)
        {
            double quality = tag.Quality ?? 1;
            if (quality > bestQuality && Language(tag.Value.Value) is { } name)
            {
                (best, bestQuality) = (name, quality);
            }
        }

        return best;
    }

    /// <summary>Subtags of Traditional Chinese (script or region); an explicit Hans script wins over a region.</summary>
    private static readonly string[] TraditionalChinese = ["Hant", "TW", "HK", "MO"];

    /// <summary>The supported language one BCP 47 tag names, or null.</summary>
    private static string? Language(string? tag)
    {
        string[] subtags = (tag ?? "").Split('-');
        if (subtags[0].Equals("zh", StringComparison.OrdinalIgnoreCase))
        {
            bool traditional = !subtags.Contains("Hans", StringComparer.OrdinalIgnoreCase) && subtags.Intersect(TraditionalChinese, StringComparer.OrdinalIgnoreCase).Any();
            return traditional ? "zh-TW" : "zh-CN";
        }

        foreach (string name in Names)
        {
            if (name.Equals(subtags[0], StringComparison.OrdinalIgnoreCase))
            {
                return name; // every supported language but Chinese is named by its primary subtag alone
            }
        }

        return null;
    }
}
