using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>One row of the keys table: the key's labels, its live view and its display status.</summary>
internal sealed record KeyRow(TokenDocument Label, TokenView View, string Status);

/// <summary>
/// The keys table, paged on the server. Labels stream from the store in id order; the live view is read only for
/// rows on the page, except when filtering by status, which is derived from live state (the admin API's
/// <see cref="TokenJson.DisplayStatus"/>, not a copy of it) and so is read for every key that passes the name search.
/// </summary>
internal static class KeyDirectory
{
    public const int PageSize = 25;

    /// <summary>The statuses a key can show, in the order of the filter.</summary>
    public static readonly string[] Statuses = ["enabled", "disabled", "expired", "exhausted", "quota_policy_disabled", "quota_policy_recovering"];

    public static (IReadOnlyList<KeyRow> Rows, int Total) Page(QuotaRuntime runtime, string? status, string? search, int? userId, int page)
    {
        long now = runtime.NowMs;
        int skip = (Math.Max(1, page) - 1) * PageSize, total = 0;
        var rows = new List<KeyRow>(PageSize);
        foreach (TokenDocument label in runtime.Store.AllTokens())
        {
            if ((userId is { } user && label.UserId != user) ||
                (!string.IsNullOrEmpty(search) && !(label.Name ?? "").Contains(search, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            TokenView? view = null;
            if (!string.IsNullOrEmpty(status))
            {
                view = runtime.ReadToken(label.Id, now);
                if (view is null || TokenJson.DisplayStatus(view) != status)
                {
                    continue;
                }
            }

            if (total++ < skip || rows.Count >= PageSize)
            {
                continue;
            }

            view ??= runtime.ReadToken(label.Id, now);
            if (view is not null)
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
