using LiteDB;

namespace Quota.Engine.Persistence;

/// <summary>
/// The config store on LiteDB (the only file that imports LiteDB): key and user labels, the owner-visible logs
/// (written in batches), and snapshots (in LiteDB's file storage, with one metadata document naming the newest).
/// One file, opened in direct mode (shared mode measured ~60× slower) by one LiteDatabase instance per process,
/// which is thread-safe: the host's request threads, the log writer and checkpoints share it.
/// </summary>
internal sealed class LiteConfigStore : ILogRowStore, IDisposable
{
    /// <summary>
    /// The document mapper of every store, with each document type mapped once, here, on one thread. LiteDB's global
    /// mapper maps a type on its first use and makes the map visible before it is filled in, so two stores opened at
    /// once (parallel tests, a host and a tool) could read a half-built one: "Member DeliveredMs not found on BsonMapper".
    /// </summary>
    private static readonly BsonMapper Mapper = CreateMapper();

    private readonly LiteDatabase db;
    private readonly ILiteCollection<SnapshotDocument> snapshots;
    private readonly ILiteCollection<UserDocument> users;
    private readonly ILiteCollection<TokenDocument> tokens;
    private readonly ILiteCollection<LogDocument> logs;
    private readonly ILiteCollection<OutboxDocument> outbox;
    private readonly ILiteCollection<GatewayKeyDocument> gatewayKeys;

    public LiteConfigStore(string path)
    {
        db = new LiteDatabase($"Filename={path};Connection=direct", Mapper);
        snapshots = db.GetCollection<SnapshotDocument>("snapshots");
        users = db.GetCollection<UserDocument>("users");
        tokens = db.GetCollection<TokenDocument>("tokens");
        // "log_events": structured rows (LogDocument). Rows of builds before it (sentences, in "logs") are not read.
        logs = db.GetCollection<LogDocument>("log_events");
        tokens.EnsureIndex(t => t.KeyHash, unique: true);
        tokens.EnsureIndex(t => t.UserId);
        logs.EnsureIndex(l => l.TokenId);
        logs.EnsureIndex(l => l.UserId);
        outbox = db.GetCollection<OutboxDocument>("outbox");
        outbox.EnsureIndex(o => o.DeliveredMs);
        gatewayKeys = db.GetCollection<GatewayKeyDocument>("gateway_keys");
        gatewayKeys.EnsureIndex(g => g.KeyHash, unique: true);
    }

    private static BsonMapper CreateMapper()
    {
        var mapper = new BsonMapper();
        mapper.Entity<SnapshotDocument>();
        mapper.Entity<UserDocument>();
        mapper.Entity<TokenDocument>();
        mapper.Entity<LogDocument>();
        mapper.Entity<OutboxDocument>();
        mapper.Entity<GatewayKeyDocument>();
        mapper.Entity<LiteFileInfo<string>>(); // the snapshots' file storage
        return mapper;
    }

    public SnapshotDocument? LatestSnapshot => snapshots.FindById(1);

    public Stream OpenSnapshot(SnapshotDocument snapshot) => db.FileStorage.OpenRead(snapshot.FileId);

    /// <summary>Stores a snapshot, then points the metadata at it, then deletes the one it replaces.</summary>
    public void SaveSnapshot(long sequence, long resumeAddress, Stream content, long createdMs)
    {
        string fileId = $"snapshots/{sequence}";
        LiteFileInfo<string> file = db.FileStorage.Upload(fileId, fileId, content);
        SnapshotDocument? previous = LatestSnapshot;
        snapshots.Upsert(new SnapshotDocument { Sequence = sequence, ResumeAddress = resumeAddress, FileId = fileId, Bytes = file.Length, CreatedMs = createdMs });
        db.Checkpoint();
        if (previous is not null && previous.FileId != fileId)
        {
            db.FileStorage.Delete(previous.FileId);
        }
    }

    public void UpsertUser(UserDocument user) => users.Upsert(user);

    public UserDocument? FindUser(int id) => users.FindById(id);

    /// <summary>Users in id order, one page (the console's user list).</summary>
    public (IReadOnlyList<UserDocument> Items, int Total) PageUsers(int skip, int limit) =>
        (users.Query().OrderBy(u => u.Id).Skip(skip).Limit(limit).ToList(), users.Count());

    public void UpsertToken(TokenDocument token) => tokens.Upsert(token);

    public TokenDocument? FindToken(int id) => tokens.FindById(id);

    public TokenDocument? FindTokenByHash(string keyHash) => tokens.FindOne(t => t.KeyHash == keyHash);

    public IEnumerable<TokenDocument> AllTokens() => tokens.FindAll();

    public bool DeleteToken(int id) => tokens.Delete(id);

    /// <summary>Stores a new gateway key; its id is assigned here (the next free one).</summary>
    public int InsertGatewayKey(GatewayKeyDocument key) => gatewayKeys.Insert(key).AsInt32;

    public IEnumerable<GatewayKeyDocument> AllGatewayKeys() => gatewayKeys.FindAll();

    public bool DeleteGatewayKey(int id) => gatewayKeys.Delete(id);

    /// <summary>Inserts a batch of log rows in one transaction.</summary>
    public void AppendLogs(IReadOnlyCollection<LogDocument> rows)
    {
        if (rows.Count > 0)
        {
            logs.InsertBulk(rows);
        }
    }

    public (IReadOnlyList<LogDocument> Items, int Total) QueryLogs(LogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        ILiteQueryable<LogDocument> q = logs.Query();
        if (query.TokenId is { } tokenId)
        {
            q = q.Where(l => l.TokenId == tokenId);
        }

        if (query.UserId is { } userId)
        {
            q = q.Where(l => l.UserId == userId);
        }

        if (query.Consume is { } consume)
        {
            q = consume ? q.Where(l => l.Kind == LogKind.Consume) : q.Where(l => l.Kind != LogKind.Consume);
        }

        if (query.Kind is { } kind)
        {
            q = q.Where(l => l.Kind == kind);
        }

        if (query.FromMs is { } fromMs)
        {
            q = q.Where(l => l.AtMs >= fromMs);
        }

        if (query.ToMs is { } toMs)
        {
            q = q.Where(l => l.AtMs < toMs);
        }

        int total = q.Count();
        List<LogDocument> items = q.OrderByDescending(l => l.Id).Skip((query.Page - 1) * query.Size).Limit(query.Size).ToList();
        return (items, total);
    }

    /// <summary>Adds the messages not already in the outbox (by id), in one transaction; returns how many were new.</summary>
    public int AddToOutbox(IReadOnlyCollection<OutboxDocument> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            return 0;
        }

        db.BeginTrans();
        try
        {
            int added = 0;
            foreach (OutboxDocument message in messages)
            {
                if (outbox.FindById(message.Id) is null)
                {
                    outbox.Insert(message);
                    added++;
                }
            }

            db.Commit();
            return added;
        }
        catch
        {
            db.Rollback();
            throw;
        }
    }

    /// <summary>Pending messages due at <paramref name="nowMs"/>, the earliest first.</summary>
    public IReadOnlyList<OutboxDocument> DueInOutbox(long nowMs, int limit) =>
        outbox.Query().Where(o => o.DeliveredMs == 0 && o.NextAttemptMs <= nowMs).OrderBy(o => o.NextAttemptMs).Limit(limit).ToList();

    public int PendingInOutbox() => outbox.Count(o => o.DeliveredMs == 0);

    public void UpdateOutbox(OutboxDocument message) => outbox.Update(message);

    /// <summary>Deletes finished messages (delivered or given up) older than <paramref name="beforeMs"/>.</summary>
    public int PruneOutbox(long beforeMs) => outbox.DeleteMany(o => o.DeliveredMs != 0 && o.CreatedMs < beforeMs);

    public IEnumerable<UserDocument> AllUsers() => users.FindAll();

    public void Dispose() => db.Dispose();
}
