namespace Quota.Host.Configuration;

/// <summary>
/// What the host accepts as its admin key (docs/operations.md "Admin key"): at least <see cref="LengthMin"/> characters,
/// at least <see cref="DistinctCharactersMin"/> different ones, and none of the placeholder texts that documentation and
/// examples use. A random key passes by a wide margin (32 random hex digits have about 14 different characters; the
/// generated key has 48 random characters of 64); what fails is a word, a pattern, or a copied example.
/// </summary>
public static class AdminKeyRule
{
    public const int LengthMin = 32;
    public const int DistinctCharactersMin = 10;

    /// <summary>Texts a real key does not contain (compared ignoring case).</summary>
    private static readonly string[] Placeholders =
        ["change-me", "changeme", "change_me", "replace-me", "replaceme", "placeholder", "example", "your-", "password", "secret", "0123456789", "abcdefgh"];

    /// <summary>Why <paramref name="key"/> is refused, in a sentence that does not repeat the key; null when it is accepted.</summary>
    public static string? Weakness(string key)
    {
        if (key.Length < LengthMin)
        {
            return $"it has {key.Length} characters; at least {LengthMin} are required";
        }

        if (new HashSet<char>(key).Count < DistinctCharactersMin)
        {
            return $"it has fewer than {DistinctCharactersMin} different characters";
        }

        foreach (string placeholder in Placeholders)
        {
            if (key.Contains(placeholder, StringComparison.OrdinalIgnoreCase))
            {
                return $"it contains the placeholder text \"{placeholder}\"";
            }
        }

        return null;
    }

    /// <summary>How to make a key that passes (appended to every refusal).</summary>
    public const string Advice = "generate one, e.g. `head -c 36 /dev/urandom | base64 > admin.key`, or leave Quota:AdminKey and Quota:AdminKeyFile empty to have the host generate <DataDir>/admin.key";
}
