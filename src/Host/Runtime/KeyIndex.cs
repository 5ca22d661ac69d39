using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Host.Runtime;

/// <summary>
/// The in-memory index that the key listings (<c>GET /api/tokens</c>, the console's keys page) page through, so a page
/// reads one page of labels, never every label (docs/operations.md "At scale"). It holds, by key id: the user, the name
/// folded for a case-insensitive substring search, and a census of display statuses; and the ids of each user, sorted.
/// <para>
/// Label writes keep it exact (<see cref="Save"/>, <see cref="Remove"/>), and so do the engine's pauses and restores
/// (<see cref="KeyStatusChanges"/>, read again before a status filter answers). A budget running out or an expiry
/// passing changes a status with no event, so the census is also refreshed in the background when a status filter
/// finds it older than <see cref="StatusMaxAge"/>: for those, a status filter's items and total are those of a census at
/// most that old (each row still shows its live status). It is built after start (<see cref="BuildAsync"/>, which also
/// settles labels with engine keys), so the host serves as soon as recovery ends; a listing waits for the build.
/// </para>
/// </summary>
public sealed class KeyIndex
{
    /// <summary>The statuses a key can show (<see cref="Admin.TokenJson.DisplayStatus"/>), in the console filter's order.</summary>
    public static readonly string[] Statuses = ["enabled", "disabled", "expired", "exhausted", "quota_policy_disabled", "quota_policy_recovering"];

    /// <summary>How old the status census may be when a status filter reads it before a refresh is started.</summary>
    public static readonly TimeSpan StatusMaxAge = TimeSpan.FromSeconds(5);

    private const byte NoStatus = 0; // a key the census has not seen (or no key): matches no status filter

    private readonly Lock gate = new();
    private readonly Dictionary<int, List<int>> idsByUser = [];
    private readonly Func<int, TokenView?> readView;
    private readonly KeyStatusChanges statusChanges;
    private readonly TimeProvider time;
    private int[] userById = new int[1024]; // 0: no key at that id (user ids start at 1)
    private string?[] nameById = new string?[1024]; // folded (upper invariant), for the search
    private byte[] statusById = new byte[1024]; // 1 + index in Statuses, or NoStatus
    private readonly int[] statusCounts = new int[Statuses.Length + 1];
    private int count, maxId;
    private HashSet<int>? writtenDuringBuild = []; // null once built
    private long censusAtMs = long.MinValue;
    private int refreshing;
    private Task? build;

    /// <param name="readView">The live view of a key (null: no key), the one the listings show.</param>
    /// <param name="statusChanges">Keys a policy paused or restored: read again before a status filter answers.</param>
    public KeyIndex(Func<int, TokenView?> readView, KeyStatusChanges statusChanges, TimeProvider time)
    {
        this.readView = readView;
        this.statusChanges = statusChanges;
        this.time = time;
    }

    /// <summary>How many keys are indexed.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return count;
            }
        }
    }

    /// <summary>
    /// Builds the index from the labels, once (later calls return the same task): each label whose key the engine has is
    /// indexed with its status; <paramref name="scanned"/> is given every label the scan read, under this index's lock, unless a
    /// write of that key came first; <paramref name="afterScan"/> is then told the ids of every label the scan read and of
    /// those whose key the engine does not have (orphans, which it removes). Writes that arrive meanwhile win over what
    /// the scan read: a writer that tells this index first (<see cref="Save"/>, <see cref="Remove"/>) and then its own
    /// lookups cannot be overwritten by <paramref name="scanned"/>.
    /// </summary>
    internal Task BuildAsync(Func<IEnumerable<TokenDocument>> labels, Action<TokenDocument> scanned, Action<IReadOnlySet<int>, IReadOnlyList<int>> afterScan,
        CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return build ??= Task.Run(() => Build(labels(), scanned, afterScan, cancellationToken), cancellationToken);
        }
    }

    /// <summary>Waits for the build (listings call it; the host starts the build after start).</summary>
    public void WaitBuilt()
    {
        Task? task;
        lock (gate)
        {
            task = build;
        }

        (task ?? throw new InvalidOperationException("the key index is not being built")).GetAwaiter().GetResult();
    }

    private void Build(IEnumerable<TokenDocument> labels, Action<TokenDocument> scanned, Action<IReadOnlySet<int>, IReadOnlyList<int>> afterScan,
        CancellationToken cancellationToken)
    {
        var seen = new HashSet<int>();
        var orphans = new List<int>();
        foreach (TokenDocument label in labels)
        {
            cancellationToken.ThrowIfCancellationRequested();
            seen.Add(label.Id);
            TokenView? view = readView(label.Id);
            lock (gate)
            {
                if (writtenDuringBuild!.Contains(label.Id))
                {
                    continue; // a write since the scan began knows better
                }

                scanned(label);
                if (view is null)
                {
                    orphans.Add(label.Id);
                    continue;
                }

                Put(label.Id, label.UserId, label.Name, view);
            }
        }

        afterScan(seen, orphans);
        lock (gate)
        {
            writtenDuringBuild = null;
            censusAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        }
    }

    /// <summary>A label was written (created, renamed, or its key updated): index it with its live status.</summary>
    internal void Save(TokenDocument label)
    {
        ArgumentNullException.ThrowIfNull(label);
        TokenView? view = readView(label.Id);
        lock (gate)
        {
            writtenDuringBuild?.Add(label.Id);
            Drop(label.Id);
            if (view is not null)
            {
                Put(label.Id, label.UserId, label.Name, view);
            }
        }
    }

    /// <summary>A key's status may have changed (an update, a reset): its census entry is read again.</summary>
    public void Touch(int tokenId)
    {
        TokenView? view = readView(tokenId);
        lock (gate)
        {
            if (tokenId <= maxId && userById[tokenId] != 0)
            {
                SetStatus(tokenId, view is null ? NoStatus : StatusCode(view));
            }
        }
    }

    /// <summary>A label was deleted.</summary>
    public void Remove(int tokenId)
    {
        lock (gate)
        {
            writtenDuringBuild?.Add(tokenId);
            Drop(tokenId);
        }
    }

    /// <summary>
    /// One page of key ids in id order, and how many keys match: of <paramref name="userId"/> (null: any), showing
    /// <paramref name="status"/> (null: any; one not in <see cref="Statuses"/> matches nothing), whose name contains
    /// <paramref name="search"/> ignoring case (null or empty: any).
    /// </summary>
    public (int[] Ids, int Total) Page(int? userId, string? status, string? search, int skip, int take)
    {
        WaitBuilt();
        byte wanted = NoStatus;
        if (status is not null)
        {
            int position = Array.IndexOf(Statuses, status);
            if (position < 0)
            {
                return ([], 0);
            }

            wanted = (byte)(position + 1);
            while (statusChanges.TryTake(out int changed))
            {
                Touch(changed);
            }

            RefreshIfStale();
        }

        string? folded = string.IsNullOrEmpty(search) ? null : search.ToUpperInvariant();
        var ids = new List<int>(Math.Min(take, 100));
        lock (gate)
        {
            if (userId is null && folded is null)
            {
                return wanted == NoStatus ? PageAll(skip, take) : PageStatus(wanted, skip, take);
            }

            int total = 0;
            if (userId is { } user)
            {
                if (idsByUser.TryGetValue(user, out List<int>? owned))
                {
                    foreach (int id in owned)
                    {
                        Collect(id, wanted, folded, skip, take, ids, ref total);
                    }
                }
            }
            else
            {
                for (int id = 1; id <= maxId; id++)
                {
                    if (userById[id] != 0)
                    {
                        Collect(id, wanted, folded, skip, take, ids, ref total);
                    }
                }
            }

            return ([.. ids], total);
        }
    }

    /// <summary>Reads every key's display status again (in the background when a status filter finds the census stale; tests call it).</summary>
    public void RefreshStatuses()
    {
        long startedMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        int last;
        lock (gate)
        {
            last = maxId;
        }

        for (int id = 1; id <= last; id++)
        {
            bool indexed;
            lock (gate)
            {
                indexed = userById[id] != 0;
            }

            if (indexed)
            {
                TokenView? view = readView(id);
                lock (gate)
                {
                    if (userById[id] != 0)
                    {
                        SetStatus(id, view is null ? NoStatus : StatusCode(view));
                    }
                }
            }
        }

        lock (gate)
        {
            censusAtMs = startedMs;
        }
    }

    private void RefreshIfStale()
    {
        long ageMs;
        lock (gate)
        {
            ageMs = time.GetUtcNow().ToUnixTimeMilliseconds() - censusAtMs;
        }

        if (ageMs > StatusMaxAge.TotalMilliseconds && Interlocked.CompareExchange(ref refreshing, 1, 0) == 0)
        {
            _ = Task.Run(() =>
            {
                try
                {
                    RefreshStatuses();
                }
                finally
                {
                    Volatile.Write(ref refreshing, 0);
                }
            });
        }
    }

    private void Collect(int id, byte wanted, string? folded, int skip, int take, List<int> ids, ref int total)
    {
        if ((wanted != NoStatus && statusById[id] != wanted) || (folded is not null && !nameById[id]!.Contains(folded, StringComparison.Ordinal)))
        {
            return;
        }

        if (total++ >= skip && ids.Count < take)
        {
            ids.Add(id);
        }
    }

    private (int[] Ids, int Total) PageAll(int skip, int take)
    {
        var ids = new List<int>(Math.Min(take, 100));
        int seen = 0;
        for (int id = 1; id <= maxId && ids.Count < take; id++)
        {
            if (userById[id] != 0 && seen++ >= skip)
            {
                ids.Add(id);
            }
        }

        return ([.. ids], count);
    }

    private (int[] Ids, int Total) PageStatus(byte wanted, int skip, int take)
    {
        var ids = new List<int>(Math.Min(take, 100));
        ReadOnlySpan<byte> statuses = statusById.AsSpan(0, maxId + 1);
        int seen = 0, at = 0;
        while (ids.Count < take)
        {
            int next = statuses[at..].IndexOf(wanted); // vectorized: a deep page of a rare status skips fast
            if (next < 0)
            {
                break;
            }

            at += next;
            if (seen++ >= skip)
            {
                ids.Add(at);
            }

            at++;
        }

        return ([.. ids], statusCounts[wanted]);
    }

    private void Put(int id, int userId, string? name, TokenView view)
    {
        Grow(id);
        userById[id] = userId;
        nameById[id] = (name ?? "").ToUpperInvariant(); // LiteDB reads an empty name back as null
        SetStatus(id, StatusCode(view));
        count++;
        maxId = Math.Max(maxId, id);
        if (!idsByUser.TryGetValue(userId, out List<int>? owned))
        {
            idsByUser[userId] = owned = [];
        }

        if (owned.Count == 0 || owned[^1] < id)
        {
            owned.Add(id); // the usual case: ids grow
        }
        else
        {
            owned.Insert(~owned.BinarySearch(id), id);
        }
    }

    private void Drop(int id)
    {
        if (id > maxId || userById[id] == 0)
        {
            return;
        }

        List<int> owned = idsByUser[userById[id]];
        owned.RemoveAt(owned.BinarySearch(id));
        if (owned.Count == 0)
        {
            idsByUser.Remove(userById[id]);
        }

        SetStatus(id, NoStatus);
        userById[id] = 0;
        nameById[id] = null;
        count--;
    }

    private void SetStatus(int id, byte status)
    {
        statusCounts[statusById[id]]--;
        statusById[id] = status;
        statusCounts[status]++;
    }

    private void Grow(int id)
    {
        if (id < userById.Length)
        {
            return;
        }

        int length = Math.Max(id + 1, userById.Length * 2);
        Array.Resize(ref userById, length);
        Array.Resize(ref nameById, length);
        Array.Resize(ref statusById, length);
    }

    private static byte StatusCode(TokenView view) => (byte)(Array.IndexOf(Statuses, Admin.TokenJson.DisplayStatus(view)) + 1);
}
