using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Application;

namespace Quota.Host.ConsoleUi;

/// <summary>One row of the keys table: the key's labels, its live view, its display status and its version.</summary>
internal sealed record KeyRow(TokenDocument Label, TokenView View, string Status)
{
    /// <summary>The version of the key's configuration: what its edit form saves against (docs/api.md "Versions").</summary>
    public string Version => DocumentVersions.Of(Label, View);

    public static KeyRow Of(KeyRecord key) => new(key.Label, key.View, TokenJson.DisplayStatus(key.View));
}

/// <summary>
/// The keys table, paged on the server from the key index (<see cref="Runtime.KeyIndex"/>) by <see cref="KeyService"/>: the
/// search (a case-insensitive substring of the name), the user and the status filter are answered there; labels and live
/// views are read only for the rows on the page.
/// </summary>
internal static class KeyDirectory
{
    public const int PageSize = 25;

    /// <summary>The statuses a key can show, in the order of the filter.</summary>
    public static string[] Statuses => Runtime.KeyIndex.Statuses;

    public static (IReadOnlyList<KeyRow> Rows, int Total) Page(KeyService keys, string? status, string? search, int? userId, int page)
    {
        (IReadOnlyList<KeyRecord> rows, int total) = keys.Page(userId, status, search, (long)(Math.Max(1, page) - 1) * PageSize, PageSize);
        return ([.. rows.Select(KeyRow.Of)], total);
    }

    public static KeyRow? Find(KeyService keys, int id) => keys.Find(id) is { } key ? KeyRow.Of(key) : null;
}
