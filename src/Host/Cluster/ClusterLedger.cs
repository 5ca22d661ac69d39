using LiteDB;

namespace Quota.Host.Cluster;

/// <summary>
/// What a node keeps of the cluster in its own data directory (<c>cluster.db</c>, LiteDB), so that a store that lost its
/// data can be rebuilt from the nodes (docs/cluster.md "Store data loss"): the store epoch the node knows, and a copy of
/// every configuration document it applied — users, keys with their policies, and the quotas of wallets and key budgets —
/// each with its configuration version (a rebuild keeps the newest version of each).
/// </summary>
public sealed class ClusterLedger : IDisposable
{
    private readonly LiteDatabase db;
    private readonly ILiteCollection<LedgerDocument> documents;
    private readonly ILiteCollection<LedgerState> state;

    public ClusterLedger(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        db = new LiteDatabase(new ConnectionString { Filename = Path.Combine(dataDir, "cluster.db"), Connection = ConnectionType.Direct }, new BsonMapper());
        documents = db.GetCollection<LedgerDocument>("documents");
        state = db.GetCollection<LedgerState>("state");
    }

    /// <summary>The store epoch this node knows; null before it first joined a store.</summary>
    public string? Epoch
    {
        get => state.FindById(1)?.Epoch;
        set => state.Upsert(new LedgerState { Id = 1, Epoch = value });
    }

    /// <summary>Keeps the documents applied (one transaction: a batch of a join is one write).</summary>
    public void Save(IReadOnlyCollection<LedgerDocument> applied)
    {
        if (applied.Count > 0)
        {
            documents.Upsert(applied);
        }
    }

    public IEnumerable<LedgerDocument> All() => documents.FindAll();

    public void Dispose() => db.Dispose();
}

/// <summary>One configuration document as the node last applied it: <c>u:7</c>, <c>t:12</c> (JSON) or <c>q:w:7</c> (a quota).</summary>
public sealed class LedgerDocument
{
    [BsonId]
    public string Member { get; set; } = "";

    public long Version { get; set; }

    public string Value { get; set; } = "";
}

public sealed class LedgerState
{
    public int Id { get; set; }

    public string? Epoch { get; set; }
}
