using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// Every language's Strings.{culture}.resx against Strings.resx (src/Host/Console/Resources): the same names, the same
/// placeholders, and a file for each language of the host (<see cref="Languages.Names"/>). The files are found on disk,
/// so a name added to Strings.resx fails here until every language has it.
/// </summary>
public sealed partial class LanguageResourceTests
{
    private static readonly string ResourcesDirectory = Path.Combine(Screenshots.RepoRoot(), "src", "Host", "Console", "Resources");

    public static TheoryData<string> Cultures() => new(LocalizedCultures());

    [Fact]
    public void EveryLanguageOfTheHost_HasAResourceFile_AndEveryResourceFileIsALanguageOfTheHost() =>
        Assert.Equal(Languages.Names.Where(name => name != Languages.Default).Order(StringComparer.Ordinal), LocalizedCultures());

    [Theory]
    [MemberData(nameof(Cultures))]
    public void ALanguage_HasEveryNameOfStringsResx_WithTheSamePlaceholders(string culture)
    {
        Dictionary<string, string> en = Load(Path.Combine(ResourcesDirectory, "Strings.resx"));
        Dictionary<string, string> other = Load(Path.Combine(ResourcesDirectory, $"Strings.{culture}.resx"));

        string[] missing = en.Keys.Where(name => !other.ContainsKey(name)).ToArray();
        string[] extra = other.Keys.Where(name => !en.ContainsKey(name)).ToArray();
        Assert.True(missing.Length == 0, $"Strings.{culture}.resx lacks: {string.Join(", ", missing)}");
        Assert.True(extra.Length == 0, $"Strings.{culture}.resx has names Strings.resx does not: {string.Join(", ", extra)}");
        foreach ((string name, string text) in en)
        {
            string translated = other[name];
            Assert.True(translated.Trim().Length > 0, $"{culture} {name}: empty");
            Assert.True(Placeholders(text) == Placeholders(translated), $"{culture} {name}: placeholders {Placeholders(translated)}, English has {Placeholders(text)}");
            _ = string.Format(CultureInfo.InvariantCulture, translated, new object?[10]); // a stray brace throws here, not on a page
        }
    }

    /// <summary>The names of a .resx file.</summary>
    internal static HashSet<string> Names(string path) => Load(path).Keys.ToHashSet(StringComparer.Ordinal);

    private static Dictionary<string, string> Load(string path) =>
        XDocument.Load(path).Root!.Elements("data").ToDictionary(e => e.Attribute("name")!.Value, e => e.Element("value")!.Value, StringComparer.Ordinal);

    /// <summary>The cultures of the Strings.{culture}.resx files on disk, sorted.</summary>
    private static string[] LocalizedCultures() =>
        Directory.EnumerateFiles(ResourcesDirectory, "Strings.*.resx").Select(file => Path.GetFileNameWithoutExtension(file)["Strings.".Length..]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The placeholders of a format string as a sorted list ({0},{1},{1}): a translation may reorder them.</summary>
    private static string Placeholders(string text) => string.Join(',', Placeholder().Matches(text).Select(m => m.Value).Order(StringComparer.Ordinal));

    [GeneratedRegex(@"\{\d+[^{}]*\}")]
    private static partial Regex Placeholder();
}
