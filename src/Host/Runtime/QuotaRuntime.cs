using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Quota.Engine;
using Quota.Engine.Persistence;
using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

/// <summary>
/// The host's one instance of the persistent engine, with what the HTTP layer adds around it: the key-hash index
/// (relay keys are looked up by hash, never stored), each user's price group (read by the relay on every request, so kept
/// here rather than read from the store), the admin key, and idempotent reserve by request id (<see cref="Quota.RequestIdIndex"/>).
/// The engine is the one <c>AddQuotaEngine</c> registers (Quota.Engine.Hosting): opened (recovered) at start, closed cleanly
/// on stop (the log committed; a checkpoint only after a long log).
/// </summary>
public sealed class QuotaRuntime : IAsyncDisposable
{
    private readonly KeyHashes keyHashes = new();
    private long keyStoreLookups;
    /// <summary>The users that are in a price group other than the default one.</summary>
    private readonly ConcurrentDictionary<int, string> groupsByUser = new();
    private readonly BearerSecret adminBearer;
    private readonly ILogger logger;
    private readonly bool deleteUnlabelled;
    private readonly int lastRecoveredTokenId; // keys above it were created after recovery: never unlabelled leftovers
    private volatile bool settled; // the start's settling of keys with labels has run (see IndexKeysAsync)

    public QuotaRuntime(AdminCredential admin, PersistentEngine persistent, IOptions<Cluster.ClusterOptions> cluster,
        KeyStatusChanges statusChanges, TimeProvider time, ILogger<QuotaRuntime> logger)
    {
        Time = time;
        AdminKeyHash = admin.Hash;
        Persistent = persistent; // opened, its recovery (and any damage it passed) logged by Quota.Engine.Hosting
        Persistent.Logs.WriteFailed += exception => HostLog.LogRowsFailed(logger, exception);

        this.logger = logger;
        deleteUnlabelled = !cluster.Value.IsEnabled;
        settled = !deleteUnlabelled;
        lastRecoveredTokenId = Engine.LastTokenId;
        Keys = new KeyIndex(tokenId => ReadToken(tokenId, NowMs, fresh: false), statusChanges, time);
        Watched = new ConsoleUi.WatchedKeys(Engine, () => NowMs); // seeded by the background pass that builds Keys
        Usage = new ConsoleUi.UsageRollup(Store, () => NowMs, Watched.Observe);
        foreach (UserDocument user in Store.AllUsers())
        {
            Engine.SetWalletAlertBase(user.Id, user.AlertBaseUnits, user.AlertSinceMs); // what the wallets' thresholds are of
            IndexGroup(user);
        }

        adminBearer = new BearerSecret(AdminKeyHash);
        RequestIds = new Quota.RequestIdIndex(Engine); // rebuilt from the recovered reservations
    }

    public PersistentEngine Persistent { get; }

    /// <summary>The dashboard's hourly counters of the log (counted as its rows are written).</summary>
    internal ConsoleUi.UsageRollup Usage { get; }

    /// <summary>The dashboard's keys near exhaustion or paused.</summary>
    internal ConsoleUi.WatchedKeys Watched { get; }
    public QuotaEngine Engine => Persistent.Engine;
    internal LiteConfigStore Store => Persistent.Store;
    public TimeProvider Time { get; }
    /// <summary>SHA-256 of the admin key (the admin and quota APIs compare against it in constant time).</summary>
    public byte[] AdminKeyHash { get; }

    /// <summary>Whether the request carries the admin key as its bearer token (the admin and quota APIs).</summary>
    public bool IsAdmin(HttpRequest request) => adminBearer.Matches(request);
    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();
    /// <summary>The quota API's request ids, scoped to their keys.</summary>
    public Quota.RequestIdIndex RequestIds { get; }

    /// <summary>This host as a cluster node (docs/cluster.md), or null in single-node mode; set once the node has joined.</summary>
    public Cluster.ClusterNode? Cluster { get; internal set; }

    /// <summary>
    /// A key as the relay sees it: the engine's view, or in cluster mode the cluster's numbers (<paramref name="fresh"/>:
    /// asked of the store; otherwise as this node's leases last heard them). The admin API, the console and /me read
    /// through <see cref="Application.KeyService"/>.
    /// </summary>
    public global::Quota.Engine.Model.TokenView? ReadToken(int tokenId, long nowMs, bool fresh = true)
    {
        global::Quota.Engine.Model.TokenView? view = Engine.ReadToken(tokenId, nowMs);
        return view is not null && Cluster is { } node ? global::Quota.Host.Cluster.ClusterViews.Overlay(node, view, fresh) : view;
    }

    /// <summary>The listings' index of key labels (built after start by <see cref="IndexKeysAsync"/>).</summary>
    public KeyIndex Keys { get; }

    /// <summary>
    /// Builds the key index after start, and settles what a crash left between the two stores a key lives in: the engine
    /// (its record in the delta log) and its label (name, secret's hash) in LiteDB, written right after. A label without
    /// an engine key lost its create in a write-behind crash: it is removed. In single-node mode an engine key without a
    /// label was never handed out (the response comes after the label): it is deleted. Until then neither can be reached:
    /// every path by id or by key needs both (the label to find it, the engine to use it). Not in cluster mode
    /// (<c>deleteUnlabelled</c> false): there the key was handed out by the store's document, which the node's first
    /// sync applies again — writing the label (docs/cluster.md "Configuration"); deleting it would leave the document
    /// unappliable, its id taken. Runs in the background so the host serves as soon as recovery ends. The same pass fills
    /// the relay's key hashes (<see cref="FindTokenByKey"/>) and then marks them complete.
    /// </summary>
    public Task IndexKeysAsync(CancellationToken cancellationToken = default) =>
        Keys.BuildAsync(Store.AllTokens, label => keyHashes.Set(label.KeyHash, label.Id), SettleKeysWithLabels, cancellationToken);

    private void SettleLabels(IReadOnlySet<int> labelled, IReadOnlyList<int> orphans)
    {
        foreach (int tokenId in labelled)
        {
            Watched.Observe(tokenId); // the dashboard's keys near exhaustion: every key looked at once
        }

        foreach (int tokenId in orphans)
        {
            if (Store.FindToken(tokenId) is { } label && Engine.ReadToken(tokenId, NowMs) is null)
            {
                RemoveLabel(label);
                HostLog.OrphanLabelRemoved(logger, tokenId);
            }
        }

        if (!deleteUnlabelled)
        {
            return;
        }

        long now = NowMs;
        for (int tokenId = 1; tokenId <= lastRecoveredTokenId; tokenId++)
        {
            if (!labelled.Contains(tokenId) && Store.FindToken(tokenId) is null && Engine.ReadToken(tokenId, now) is not null &&
                Engine.DeleteToken(tokenId, now) == global::Quota.Engine.Model.SpecError.None)
            {
                HostLog.UnlabelledKeyDeleted(logger, tokenId);
            }
        }

        settled = true;
    }

    private void SettleKeysWithLabels(IReadOnlySet<int> labelled, IReadOnlyList<int> orphans)
    {
        SettleLabels(labelled, orphans);
        keyHashes.MarkComplete(); // every label's hash was put by the scan, or by its write since (see KeyIndex.BuildAsync)
    }

    /// <summary>
    /// Whether a key reached by id (not by its secret) may be used: yes once the start's settling has deleted the keys
    /// without labels (see <see cref="IndexKeysAsync"/>); until then, if its label exists.
    /// </summary>
    public bool IsLabelled(int tokenId) => settled || tokenId > lastRecoveredTokenId || Store.FindToken(tokenId) is not null;

    /// <summary>Writes a key's label (created, renamed, or applied from the cluster's store) and indexes it.</summary>
    /// <remarks>The key index first: it tells the background scan that this write knows better than what it read.</remarks>
    internal void SaveLabel(TokenDocument label)
    {
        Store.UpsertToken(label);
        Keys.Save(label);
        keyHashes.Set(label.KeyHash, label.Id);
    }

    /// <summary>Deletes a key's label (after its engine key): the store first, then the lookups (see <see cref="FindTokenByKey"/>).</summary>
    internal void RemoveLabel(TokenDocument label)
    {
        Store.DeleteToken(label.Id);
        Keys.Remove(label.Id);
        keyHashes.Remove(label.KeyHash);
    }

    /// <summary>How many key lookups had to read the store (only before the start's pass over the labels has ended; a metric).</summary>
    public long KeyStoreLookups => Interlocked.Read(ref keyStoreLookups);

    /// <summary>The key's id, by the hash of the key (computed on the stack: no allocation per request); null: unknown.</summary>
    /// <remarks>
    /// Once the start's pass over the labels has filled the key hashes (<see cref="IndexKeysAsync"/>), a key not there is
    /// unknown, with no store read. Until then a key not seen yet is looked up in the store's unique index on the hash and
    /// remembered; the store is read again after remembering it, so a delete that raced the lookup (it deletes the label,
    /// then forgets the hash) cannot leave a stale entry behind.
    /// </remarks>
    public int? FindTokenByKey(string key)
    {
        var digest = KeyDigest.OfKey(key);
        if (keyHashes.TryFind(digest, out int id))
        {
            return id;
        }

        if (keyHashes.IsComplete)
        {
            return null;
        }

        Interlocked.Increment(ref keyStoreLookups);
        string keyHash = digest.ToHex();
        if (Store.FindTokenByHash(keyHash) is not { } label)
        {
            return null;
        }

        keyHashes.Set(keyHash, label.Id);
        if (Store.FindToken(label.Id) is null)
        {
            keyHashes.Remove(keyHash);
            return null;
        }

        return label.Id;
    }

    /// <summary>The price group of <paramref name="userId"/> (<see cref="Relay.Pricing.DefaultGroup"/> when it names none).</summary>
    public string GroupOf(int userId) => groupsByUser.TryGetValue(userId, out string? group) ? group : Relay.Pricing.DefaultGroup;

    /// <summary>Saves a user's document, and its price group where the relay reads it (every write of a user goes through here).</summary>
    internal void SaveUser(UserDocument user)
    {
        Store.UpsertUser(user);
        IndexGroup(user);
    }

    private void IndexGroup(UserDocument user)
    {
        if (user.Group is null or Relay.Pricing.DefaultGroup)
        {
            groupsByUser.TryRemove(user.Id, out _);
        }
        else
        {
            groupsByUser[user.Id] = user.Group;
        }
    }

    /// <summary>
    /// After a wallet was created or topped up: its balance now is what its alert thresholds are of, from now on
    /// (docs/alerts.md), kept in the user's document so that a restart keeps it.
    /// </summary>
    public void RebaseWalletAlerts(int userId)
    {
        if (Engine.ReadUser(userId) is not { } wallet || Store.FindUser(userId) is not { } label)
        {
            return;
        }

        long now = NowMs;
        label.AlertBaseUnits = wallet.QuotaUnits;
        label.AlertSinceMs = now;
        SaveUser(label);
        Engine.SetWalletAlertBase(userId, wallet.QuotaUnits, now);
    }

    /// <summary>Completes when this request's changes are acknowledged under the configured durability.</summary>
    public ValueTask AcknowledgeAsync(CancellationToken cancellationToken) => Persistent.AcknowledgeAsync(cancellationToken);

    public ValueTask DisposeAsync() => Persistent.DisposeAsync();

}

/// <summary>Opens the delta log in a directory (a service the host resolves only if registered: fault injection in tests).</summary>
public delegate IDeltaLog DeltaLogOpener(string directory);
