using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Quota.Engine;
using Quota.Engine.Persistence;
using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

/// <summary>
/// The host's one instance of the persistent engine, with what the HTTP layer adds around it: the key-hash index
/// (relay keys are looked up by hash, never stored), the admin key, and idempotent reserve by request id (<see cref="Quota.RequestIdIndex"/>).
/// Opened (recovered) at start; <see cref="QuotaRuntimeLifetime"/> closes it cleanly (commit + snapshot) on stop.
/// </summary>
public sealed class QuotaRuntime : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, int> tokensByHash = new(StringComparer.Ordinal);
    private readonly BearerSecret adminBearer;

    /// <param name="openLog">Opens the delta log in a directory; FASTER when not registered (tests register a faulty one).</param>
    public QuotaRuntime(IOptions<QuotaOptions> options, IOptions<AlertsOptions> alerts, Alerts.AlertSink alertSink, TimeProvider time,
        ILogger<QuotaRuntime> logger, DeltaLogOpener? openLog = null)
    {
        QuotaOptions o = options.Value;
        Time = time;
        if (PrivateFiles.Prepare(o.DataDir) is { } openMode)
        {
            HostLog.DataDirectoryNotPrivate(logger, Path.GetFullPath(o.DataDir), Convert.ToString((int)openMode, 8));
        }

        Persistent = PersistentEngine.Open(o.ToPersistence(alerts.Value.Thresholds), time, alertSink, openLog is null ? null : directory => openLog(directory));
        string dataDir = Path.GetFullPath(o.DataDir);
        HostLog.Opened(logger, dataDir, o.Durability, Persistent.Recovery);
        Persistent.Logs.WriteFailed += exception => HostLog.LogRowsFailed(logger, exception);
        if (Persistent.Recovery.Corruption is { } corruption)
        {
            HostLog.Corruption(logger, corruption);
        }

        ReconcileKeysWithLabels(logger);
        foreach (TokenDocument token in Store.AllTokens())
        {
            tokensByHash[token.KeyHash] = token.Id;
        }

        foreach (UserDocument user in Store.AllUsers())
        {
            Engine.SetWalletAlertBase(user.Id, user.AlertBaseUnits, user.AlertSinceMs); // what the wallets' thresholds are of
        }

        AdminKeyHash = ApiKeys.SecretHash(ResolveAdminKey(o, logger)); // only the hash is kept
        adminBearer = new BearerSecret(AdminKeyHash);
        RequestIds = new Quota.RequestIdIndex(Engine); // rebuilt from the recovered reservations
    }

    public PersistentEngine Persistent { get; }
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
    /// A key as the API shows it: the engine's view, or in cluster mode the cluster's numbers (<paramref name="fresh"/>:
    /// asked of the store; otherwise as this node's leases last heard them).
    /// </summary>
    public global::Quota.Engine.Model.TokenView? ReadToken(int tokenId, long nowMs, bool fresh = true)
    {
        global::Quota.Engine.Model.TokenView? view = Engine.ReadToken(tokenId, nowMs);
        return view is not null && Cluster is { } node ? global::Quota.Host.Cluster.ClusterViews.Overlay(node, view, fresh) : view;
    }

    /// <summary>A wallet as the API shows it (in cluster mode, the store's numbers).</summary>
    public global::Quota.Engine.Model.UserView? ReadUser(int userId)
    {
        global::Quota.Engine.Model.UserView? view = Engine.ReadUser(userId);
        return view is not null && Cluster is { } node ? global::Quota.Host.Cluster.ClusterViews.Overlay(node, view) : view;
    }

    /// <summary>
    /// A key lives in two stores: the engine (its record in the delta log) and its label (name, secret's hash) in LiteDB,
    /// written right after. A crash between the two leaves one without the other; recovery settles it before serving.
    /// An engine key without a label was never handed out (the response comes after the label): it is deleted, so it
    /// cannot be reached by id. A label without an engine key lost its create in a write-behind crash: it is removed.
    /// </summary>
    private void ReconcileKeysWithLabels(ILogger logger)
    {
        var labelled = new HashSet<int>();
        long now = NowMs;
        foreach (TokenDocument label in Store.AllTokens())
        {
            if (Engine.ReadToken(label.Id, now) is null)
            {
                Store.DeleteToken(label.Id);
                HostLog.OrphanLabelRemoved(logger, label.Id);
                continue;
            }

            labelled.Add(label.Id);
        }

        for (int tokenId = 1; tokenId <= Engine.LastTokenId; tokenId++)
        {
            if (!labelled.Contains(tokenId) && Engine.ReadToken(tokenId, now) is not null &&
                Engine.DeleteToken(tokenId, now) == global::Quota.Engine.Model.SpecError.None)
            {
                HostLog.UnlabelledKeyDeleted(logger, tokenId);
            }
        }
    }

    /// <summary>The key's id, by the hash of the key (computed on the stack and looked up as a span: no allocation per request).</summary>
    public int? FindTokenByKey(string key)
    {
        Span<char> hash = stackalloc char[ApiKeys.HashChars];
        ApiKeys.Hash(key, hash);
        return tokensByHash.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hash, out int id) ? id : null;
    }

    public void IndexKey(string keyHash, int tokenId) => tokensByHash[keyHash] = tokenId;

    public void UnindexKey(string keyHash) => tokensByHash.TryRemove(keyHash, out _);

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
        Store.UpsertUser(label);
        Engine.SetWalletAlertBase(userId, wallet.QuotaUnits, now);
    }

    /// <summary>Completes when this request's changes are acknowledged under the configured durability.</summary>
    public ValueTask AcknowledgeAsync(CancellationToken cancellationToken) => Persistent.AcknowledgeAsync(cancellationToken);

    private static string ResolveAdminKey(QuotaOptions options, ILogger logger)
    {
        if (options.AdminKey.Length > 0)
        {
            return options.AdminKey;
        }

        string path = Path.Combine(options.DataDir, "admin.key");
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        string key = ApiKeys.NewKey("sk-admin-");
        PrivateFiles.WriteSecret(path, key); // created 0600: never readable by others, not even for a moment

        HostLog.AdminKeyGenerated(logger, Path.GetFullPath(path), key); // printed once, at first start (docs/operations.md "Configuration")
        return key;
    }

    public ValueTask DisposeAsync() => Persistent.DisposeAsync();

}

/// <summary>Opens the delta log in a directory (a service the host resolves only if registered: fault injection in tests).</summary>
public delegate IDeltaLog DeltaLogOpener(string directory);

/// <summary>Closes the runtime on host stop (SIGTERM / Ctrl-C): flush the log, snapshot, close.</summary>
public sealed class QuotaRuntimeLifetime(QuotaRuntime runtime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken) => await runtime.DisposeAsync().ConfigureAwait(false);
}
