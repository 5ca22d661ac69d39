namespace Quota.Host.Admin;

/// <summary>
/// The one check of a key's or a user's name, wherever one is written: the admin API (and quotactl, which uses it),
/// the console's forms, and the functions both call, which refuse an unchecked name outright. A name is shown in the
/// console, in logs and in exports: it may not carry control characters (C0, DEL, C1: a NUL, a line break forging a
/// log line) or bidirectional overrides (U+202A–202E, U+2066–2069: "\u202Eyek-nimda" displays as "admin-key").
/// </summary>
public static class LabelNames
{
    /// <summary>Longest name (characters).</summary>
    public const int LengthMax = 256;

    /// <summary>Why <paramref name="name"/> cannot be a name (the API's message, after the field), or null when it can; null is no name.</summary>
    public static string? Problem(string? name)
    {
        if (name is null)
        {
            return null;
        }

        if (name.Length > LengthMax)
        {
            return $"must be at most {LengthMax} characters";
        }

        foreach (char c in name)
        {
            if (char.IsControl(c))
            {
                return "must not contain control characters (U+0000–001F, U+007F–009F)";
            }

            if (c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069')
            {
                return "must not contain bidirectional override or isolate characters (U+202A–202E, U+2066–2069)";
            }
        }

        return null;
    }

    /// <summary>For the write functions: a name that reached them unchecked is a programmer's error, not a user's.</summary>
    internal static void Require(string? name)
    {
        if (Problem(name) is { } problem)
        {
            throw new ArgumentException($"name {problem}; check it with LabelNames.Problem first", nameof(name));
        }
    }
}
