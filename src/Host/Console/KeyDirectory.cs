using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>One row of the keys table: the key's labels, its live view and its display status.</summary>
internal sealed record KeyRow(TokenDocument Label, TokenView View, string Status);

/// <summary>
/// The keys table, paged on the server from the key index (<see cref="KeyIndex"/>): the search (a case-insensitive
/// substring of the name), the user and the status filter are answered there; labels and live views are read only for
/// the rows on the page.
/// </summary>
internal static class KeyDirectory
{
    public const int PageSize = 25;

    /// <summary>The statuses a key can show, in the order of the filter.</summary>
    public static string[] Statuses => KeyIndex.Statuses;

    public static (IReadOnlyList<KeyRow> Rows, int Total) Page(QuotaRuntime runtime, string? status, string? search, int? userId, int page)
    {
        long skip = (long)(Math.Max(1, page) - 1) * PageSize;
        (int[] ids, int total) = runtime.Keys.Page(userId, status, search, (int)Math.Min(skip, int.MaxValue), skip > int.MaxValue ? 0 : PageSize);
        TokenView?[] views = runtime.ReadTokens(ids, runtime.NowMs); // one store round trip for the page in cluster mode
        var rows = new List<KeyRow>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if (runtime.Store.FindToken(ids[i]) is { } label && views[i] is { } view)
            {
                rows.Add(new KeyRow(label, view, TokenJson.DisplayStatus(view)));
            }
        }

        return (rows, total);
    }

    public static KeyRow? Find(QuotaRuntime runtime, int id) =>
        runtime.Store.FindToken(id) is { } label && runtime.ReadToken(id, runtime.NowMs) is { } view
            ? new KeyRow(label, view, TokenJson.DisplayStatus(view))
            : null;
}
