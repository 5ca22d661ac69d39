using System.Collections.Concurrent;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The keys the dashboard lists as near exhaustion or paused, as an index kept up to date instead of a scan of every key
/// per page: every key is looked at once at start, then again whenever a log row names it (a request, a refusal, a
/// pause, a reset) or an operator saves it. A page reads only the keys here, drops those no longer near (a window
/// rolled over) and shows the rest. A key that creeps up without a row (only an operator's edit of its budget does
/// that, and saving re-checks it) is the one case it can miss until its next row.
/// </summary>
internal sealed class WatchedKeys(QuotaEngine engine, Func<long> nowMs)
{
    /// <summary>The share of a policy window or key budget that makes a key "near exhaustion" (80 %).</summary>
    public const double NearShare = 0.8;

    private readonly ConcurrentDictionary<int, byte> watched = new();

    public int Count => watched.Count;

    /// <summary>Looks at a key again: watched while it is paused or near exhaustion.</summary>
    public void Observe(int tokenId)
    {
        if (engine.ReadToken(tokenId, nowMs()) is { } view && IsWatched(view))
        {
            watched.TryAdd(tokenId, 0);
        }
        else
        {
            watched.TryRemove(tokenId, out _);
        }
    }

    /// <summary>Looks again at every key a batch of log rows names.</summary>
    public void Observe(IReadOnlyCollection<LogDocument> rows)
    {
        var seen = new HashSet<int>();
        foreach (LogDocument row in rows)
        {
            if (row.TokenId > 0 && seen.Add(row.TokenId))
            {
                Observe(row.TokenId);
            }
        }
    }

    /// <summary>The watched keys' current views (at most <paramref name="max"/> read), dropping those no longer watched.</summary>
    public List<TokenView> Current(int max)
    {
        var views = new List<TokenView>();
        long now = nowMs();
        foreach (int tokenId in watched.Keys)
        {
            if (views.Count == max)
            {
                break;
            }

            if (engine.ReadToken(tokenId, now) is { } view && IsWatched(view))
            {
                views.Add(view);
            }
            else
            {
                watched.TryRemove(tokenId, out _);
            }
        }

        return views;
    }

    public static bool IsWatched(TokenView view) => view.Paused || UsedShare(view) >= NearShare;

    /// <summary>The largest share used of any enabled policy window (used + reserved) or of the key budget.</summary>
    public static double UsedShare(TokenView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        double share = 0;
        if (!view.UnlimitedQuota && view.UsedQuotaUnits + view.RemainQuotaUnits > 0)
        {
            share = (double)view.UsedQuotaUnits / (view.UsedQuotaUnits + view.RemainQuotaUnits);
        }

        foreach (PolicyView policy in view.Policies)
        {
            if (policy.Spec.Enabled && policy.Spec.QuotaUnits > 0)
            {
                share = Math.Max(share, (double)(policy.UsedQuotaUnits + policy.ReservedQuotaUnits) / policy.Spec.QuotaUnits);
            }
        }

        return share;
    }
}
