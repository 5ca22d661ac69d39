using System.Collections.Concurrent;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The names of keys the console deleted lately, by id: after a delete the keys page is reached with only the id in its
/// address (<c>/keys?deleted=12</c>) and says which key went by looking its name up here, so a link cannot make the page
/// print text of its author's choosing. Bounded; after a restart, or for an id it never saw, the page shows the id.
/// </summary>
public sealed class DeletedKeyNames
{
    private const int NamesMax = 256;
    private readonly ConcurrentDictionary<int, string> names = new();

    public void Remember(int tokenId, string? name)
    {
        if (names.Count >= NamesMax)
        {
            names.Clear(); // rare: a notice falls back to the id
        }

        names[tokenId] = string.IsNullOrEmpty(name) ? "#" + tokenId.ToString(System.Globalization.CultureInfo.InvariantCulture) : name;
    }

    /// <summary>The notice's name for <paramref name="deleted"/> (the query text), or null when it names no deleted key.</summary>
    public string? Describe(string? deleted, Runtime.QuotaRuntime runtime)
    {
        if (QueryNumber.Parse(deleted) is not { } id || id < 1 || runtime.Store.FindToken(id) is not null)
        {
            return null; // not an id, or the key is still there: nothing was deleted
        }

        return names.TryGetValue(id, out string? name) ? name : "#" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
