using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// The store's configuration, applied to this node. Every save in the cluster writes a whole document and bumps the
/// configuration version; each node applies the documents changed since the version it has (on the events channel, and
/// by polling as the fallback). Applying is idempotent — a document describes a state, not a step — so a node that
/// restarts simply applies everything again.
/// <para>The local engine gets each key's shape (status, expiry, policies' windows, metrics and scopes) with the quotas
/// lifted out of reach: it keeps this node's durable count of what each account used and its reservations, while the
/// real limits are enforced cluster-wide by <see cref="LeaseGate"/>.</para>
/// <para>Threads: an announcement on the events channel only records its version and wakes one worker
/// (<see cref="RunAsync"/>), which reads the changes with async calls and coalesces a burst into one read; the store
/// client's callback never waits. Reading the store holds no lock: the changes read are applied under a short lock, in
/// version order, each only if newer than what this node has applied (so a slower read never applies an older state
/// over a newer one).</para>
/// </summary>
public sealed class ClusterConfig(QuotaRuntime runtime, ClusterStore store, ClusterLedger ledger, ILogger logger)
{
    private readonly ConcurrentDictionary<int, TokenDocumentInStore> tokens = new();
    private readonly Lock applying = new();
    // At most one wake pending (a full channel drops the write): a burst of announcements is one read.
    private readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private long version;
    private long announced;

    /// <summary>The configuration version this node has applied.</summary>
    public long Version => Interlocked.Read(ref version);

    public TokenDocumentInStore? Token(int tokenId) => tokens.TryGetValue(tokenId, out TokenDocumentInStore? doc) && !doc.Deleted ? doc : null;

    /// <summary>
    /// A save announced <paramref name="announcedVersion"/> (the events channel's callback): records it and wakes the
    /// worker. Never blocks, never calls the store.
    /// </summary>
    public void Announce(long announcedVersion)
    {
        long seen = Interlocked.Read(ref announced);
        while (announcedVersion > seen && Interlocked.CompareExchange(ref announced, announcedVersion, seen) != seen)
        {
            seen = Interlocked.Read(ref announced);
        }

        wake.Writer.TryWrite(true);
    }

    /// <summary>The one worker that applies announced versions, until <paramref name="cancellationToken"/> stops it.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await wake.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (Interlocked.Read(ref announced) <= Version)
                {
                    continue; // applied already (by a save made here, or the previous read)
                }

                try
                {
                    await SyncAsync().ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is StackExchange.Redis.RedisException or TimeoutException)
                {
                    ClusterLog.StoreUnreachable(logger, exception.Message); // the poll catches up
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    ClusterLog.SyncFailed(logger, exception); // the one worker stays alive for the next announcement
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Applies every document changed since the version this node has; returns that version after.</summary>
    public async Task<long> SyncAsync()
    {
        (string Member, long Version)[] changes = await store.ChangesAfterAsync(Version).ConfigureAwait(false);
        return ApplyChanges(changes, changes.Length == 0 ? [] : await store.LoadDocumentsAsync(changes).ConfigureAwait(false));
    }

    /// <summary>
    /// Applies a save made here before it is answered, so that a read on this node sees it (on the saving request's
    /// thread, with the store client's synchronous calls, as the save itself). The save's version is in the store's change
    /// set before this reads it, so it is applied when this returns.
    /// </summary>
    public void SyncThrough(long target)
    {
        (string Member, long Version)[] changes = store.ChangesAfter(Version);
        long applied = ApplyChanges(changes, changes.Length == 0 ? [] : store.LoadDocuments(changes));
        System.Diagnostics.Debug.Assert(applied >= target, "a save's own version is applied by the sync that follows it");
    }

    /// <summary>Applies, in version order, the changes newer than this node's version (another read may have applied some).</summary>
    private long ApplyChanges((string Member, long Version)[] changes, string?[] documents)
    {
        lock (applying)
        {
            var kept = new List<LedgerDocument>();
            for (int i = 0; i < changes.Length; i++)
            {
                if (changes[i].Version <= Version)
                {
                    continue;
                }

                if (documents[i] is { } json)
                {
                    Apply(changes[i].Member, json);
                    kept.Add(new LedgerDocument { Member = changes[i].Member, Version = changes[i].Version, Value = json });
                }

                Interlocked.Exchange(ref version, changes[i].Version);
            }

            ledger.Save(kept); // a copy for a store that loses its data (docs/cluster.md "Store data loss")
            return Version;
        }
    }

    /// <summary>
    /// The keys' documents as this node kept them (<see cref="ClusterLedger"/>), for a node that starts while the store has
    /// lost its data: it knows its keys' real shape without the store, and applies everything again once the store is back.
    /// </summary>
    public void LoadKept()
    {
        foreach (LedgerDocument doc in ledger.All())
        {
            if (doc.Member.StartsWith("t:", StringComparison.Ordinal) && JsonSerializer.Deserialize<TokenDocumentInStore>(doc.Value) is { } token)
            {
                tokens[token.Id] = token;
            }
        }
    }

    private void Apply(string member, string json)
    {
        if (member.StartsWith("q:", StringComparison.Ordinal))
        {
            return; // a wallet's or key budget's quota: the store's account holds it; this node only keeps a copy
        }

        if (member.StartsWith("u:", StringComparison.Ordinal))
        {
            ApplyUser(JsonSerializer.Deserialize<UserDocumentInStore>(json)!);
        }
        else
        {
            ApplyToken(JsonSerializer.Deserialize<TokenDocumentInStore>(json)!);
        }
    }

    private void ApplyUser(UserDocumentInStore user)
    {
        if (runtime.Engine.ReadUser(user.Id) is null)
        {
            // The local wallet only counts: the store's account holds the balance.
            SaveOutcome created = runtime.Engine.CreateUser(EngineLimits.BalanceMaxUnits, user.Id);
            if (!created.IsOk)
            {
                ClusterLog.ApplyFailed(logger, "u:" + user.Id, created.Error.ToString());
                return;
            }
        }

        // The local document keeps what only this node writes (its wallet alerts' base); the rest is the store's.
        UserDocument label = runtime.Store.FindUser(user.Id) ?? new UserDocument { Id = user.Id };
        label.Name = user.Name;
        label.CreatedMs = user.CreatedMs;
        label.Group = user.Group;
        runtime.SaveUser(label);
    }

    private void ApplyToken(TokenDocumentInStore token)
    {
        long now = runtime.NowMs;
        bool exists = runtime.Engine.ReadToken(token.Id, now) is not null;
        if (token.Deleted)
        {
            tokens[token.Id] = token; // refused by the gate from now on
            if (exists)
            {
                runtime.Engine.DeleteToken(token.Id, now);
            }

            if (runtime.Store.FindToken(token.Id) is { } label)
            {
                runtime.RemoveLabel(label);
            }

            return;
        }

        SaveOutcome saved = exists
            ? runtime.Engine.UpdateToken(token.Id, new TokenUpdate
            {
                Status = token.Status,
                RemainQuotaUnits = 0,
                UnlimitedQuota = true,
                ExpiresAtMs = token.ExpiresAtMs,
                Policies = LocalPolicies(token.Policies),
            }, now)
            : runtime.Engine.CreateToken(new TokenSpec
            {
                UserId = token.UserId,
                Status = token.Status,
                UnlimitedQuota = true,
                ExpiresAtMs = token.ExpiresAtMs,
                Policies = LocalPolicies(token.Policies),
            }, now, token.Id);
        if (!saved.IsOk)
        {
            ClusterLog.ApplyFailed(logger, "t:" + token.Id, saved.Error.ToString());
            return; // the gate keeps the document the engine has: the two never pair one key's windows with another shape
        }

        tokens[token.Id] = token;
        runtime.SaveLabel(new TokenDocument
        {
            Id = token.Id,
            UserId = token.UserId,
            Name = token.Name,
            KeyHash = token.KeyHash,
            KeyPreview = token.KeyPreview,
            CreatedMs = token.CreatedMs,
        });
    }

    /// <summary>The policies as the local engine keeps them: the same windows, a quota it never reaches.</summary>
    internal static QuotaPolicySpec[] LocalPolicies(QuotaPolicySpec[] policies) =>
        [.. policies.Select(p => p.Enabled ? p with { QuotaUnits = EngineLimits.PolicyQuotaMaxUnits } : p)];
}
