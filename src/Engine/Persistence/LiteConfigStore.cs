using LiteDB;

namespace Quota.Engine.Persistence;

/// <summary>
/// The config store on LiteDB (the only class that imports LiteDB; its log indexes are in LiteConfigStore.LogSpine.cs): key and user labels, the owner-visible logs
/// (written in batches), and snapshots (in LiteDB's file storage, with one metadata document naming the newest).
/// One file, opened in direct mode (shared mode measured ~60× slower) by one LiteDatabase instance per process,
/// which is thread-safe: the host's request threads, the log writer and checkpoints share it.
/// </summary>
internal sealed partial class LiteConfigStore : ILogRowStore, IDisposable
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
    private readonly ILiteCollection<RollupDocument> rollups;
    private volatile ILogRollup? rollup;

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
        LogSpine.EnsureIndexes(logs);
        outbox = db.GetCollection<OutboxDocument>("outbox");
        outbox.EnsureIndex(o => o.DeliveredMs);
        gatewayKeys = db.GetCollection<GatewayKeyDocument>("gateway_keys");
        gatewayKeys.EnsureIndex(g => g.KeyHash, unique: true);
        rollups = db.GetCollection<RollupDocument>("rollup_hours");
        rollups.EnsureIndex(r => r.HourMs);
    }

    /// <summary>What counts the log rows per hour as they are written (the host's dashboard); null: nothing does.</summary>
    public ILogRollup? Rollup
    {
        get => rollup;
        set => rollup = value;
    }

    private static BsonMapper CreateMapper()
    {
        var mapper = new BsonMapper();
        mapper.Entity<SnapshotDocument>();
        mapper.Entity<UserDocument>();
        mapper.Entity<TokenDocument>();
        mapper.Entity<LogDocument>();
        mapper.Entity<OutboxDocument>();
        mapper.Entity<RollupDocument>();
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
    /// <summary>The most rows <see cref="QueryLogs"/> counts for a filtered total (each is read to be counted).</summary>
    public const int LogTotalMax = 1_000;

    public (IReadOnlyList<UserDocument> Items, int Total) PageUsers(int skip, int limit) =>
        (users.Query().OrderBy(u => u.Id).Skip(skip).Limit(limit).ToList(), users.Count());

    public void UpsertToken(TokenDocument token) => tokens.Upsert(token);

    public TokenDocument? FindToken(int id) => tokens.FindById(id);

    /// <summary>Inserts labels in one transaction (tools that seed a store; the host writes one at a time).</summary>
    public int InsertTokens(IEnumerable<TokenDocument> batch) => tokens.InsertBulk(batch);

    public TokenDocument? FindTokenByHash(string keyHash) => tokens.FindOne(t => t.KeyHash == keyHash);

    public IEnumerable<TokenDocument> AllTokens() => tokens.FindAll();

    public bool DeleteToken(int id) => tokens.Delete(id);

    /// <summary>Stores a new gateway key; its id is assigned here (the next free one).</summary>
    public int InsertGatewayKey(GatewayKeyDocument key) => gatewayKeys.Insert(key).AsInt32;

    public IEnumerable<GatewayKeyDocument> AllGatewayKeys() => gatewayKeys.FindAll();

    public bool DeleteGatewayKey(int id) => gatewayKeys.Delete(id);

    /// <summary>Inserts a batch of log rows, and adds their <see cref="Rollup"/> increments, in one transaction.</summary>
    public void AppendLogs(IReadOnlyCollection<LogDocument> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        ILogRollup? counter = rollup;
        IReadOnlyCollection<RollupDocument> increments = counter?.Of(rows) ?? [];
        if (increments.Count == 0)
        {
            logs.InsertBulk(rows);
        }
        else
        {
            db.BeginTrans();
            try
            {
                logs.InsertBulk(rows);
                foreach (RollupDocument increment in increments)
                {
                    rollups.Upsert(Added(rollups.FindById(increment.Id), increment));
                }

                db.Commit();
            }
            catch
            {
                db.Rollback();
                throw;
            }
        }

        counter?.Committed(increments, rows);
    }

    private static RollupDocument Added(RollupDocument? stored, RollupDocument increment) => stored is null ? increment : new RollupDocument
    {
        Id = stored.Id, HourMs = stored.HourMs, Family = stored.Family, Name = stored.Name, Group = stored.Group, TokenId = stored.TokenId,
        UserId = stored.UserId, PolicyIndex = stored.PolicyIndex, Requests = stored.Requests + increment.Requests,
        Units = stored.Units + increment.Units, Tokens = stored.Tokens + increment.Tokens,
    };

    /// <summary>The stored hourly counters from <paramref name="fromHourMs"/> on.</summary>
    public IEnumerable<RollupDocument> Rollups(long fromHourMs) => rollups.Find(r => r.HourMs >= fromHourMs);

    /// <summary>Deletes the hourly counters of <paramref name="family"/> older than <paramref name="beforeHourMs"/>; returns how many.</summary>
    public int PruneRollups(int family, long beforeHourMs) => rollups.DeleteMany(r => r.HourMs < beforeHourMs && r.Family == family);

    /// <summary>
    /// One page of the log, newest first, and how many rows match: without filters, from the ids (exact but for rows
    /// lost to a failed write); with filters, counted up to <see cref="LogTotalMax"/> (a total of that value means "at
    /// least"). The page is read along one index in the page's order (see <see cref="LogSpine"/>),
    /// so it costs the page (plus <c>Page - 1</c> pages skipped, or none with <see cref="LogQuery.BeforeId"/>), never the
    /// log's size; filters the chosen index does not cover (a time range; a kind within one key's or user's rows) are
    /// checked on the rows it reads.
    /// </summary>
    public (IReadOnlyList<LogDocument> Items, int Total) QueryLogs(LogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        LogSpine spine = LogSpine.For(query);
        (ILiteQueryable<LogDocument> Rows, bool ScanFiltered) Filtered()
        {
            // A new query each time: LiteDB's queryables change in place (Select, Limit).
            ILiteQueryable<LogDocument> q = logs.Query().Where(spine.Range(query)).OrderBy(spine.Expression, Query.Descending);
            int filters = 0;
            if (query.UserId is { } user && spine == LogSpine.ByToken)
            {
                q = q.Where(l => l.UserId == user);
                filters++;
            }

            if (query.Consume is { } consume && spine != LogSpine.BySystem)
            {
                q = consume ? q.Where(l => l.Kind == LogKind.Consume) : q.Where(l => l.Kind != LogKind.Consume);
                filters++;
            }

            if (query.Kind is { } kind)
            {
                q = q.Where(l => l.Kind == kind);
                filters++;
            }

            if (query.FromMs is { } fromMs)
            {
                q = q.Where(l => l.AtMs >= fromMs);
                filters++;
            }

            if (query.ToMs is { } toMs)
            {
                q = q.Where(l => l.AtMs < toMs);
                filters++;
            }

            return (q, filters > 0);
        }

        (ILiteQueryable<LogDocument> counted, bool scanFiltered) = Filtered();
        int total = spine == LogSpine.ById && !scanFiltered
            ? IdsBelow(query.BeforeId)
            : counted.Select(l => l.Id).Limit(LogTotalMax).ToEnumerable().Count();
        List<LogDocument> items = Filtered().Rows.Skip((query.Page - 1) * query.Size).Limit(query.Size).ToList();
        return (items, total);
    }

    /// <summary>
    /// Deletes up to <paramref name="limit"/> of the oldest log rows written before <paramref name="beforeMs"/>, in one
    /// transaction; returns how many (fewer than the limit: none older are left). Reads from the oldest id up and stops at
    /// the first row that is not old enough, so a row is never deleted for being near an old one.
    /// </summary>
    public int PruneLogs(long beforeMs, int limit)
    {
        long first = 0, last = 0;
        int old = 0;
        foreach (BsonDocument row in logs.Query().OrderBy("$._id").Select("{ _id: $._id, AtMs: $.AtMs }").Limit(limit).ToEnumerable())
        {
            if (row["AtMs"].AsInt64 >= beforeMs)
            {
                break;
            }

            last = row["_id"].AsInt64;
            first = old++ == 0 ? last : first;
        }

        return old == 0 ? 0 : logs.DeleteMany(BsonExpression.Create("$._id BETWEEN @0 AND @1", first, last));
    }

    /// <summary>
    /// How many rows have an id below <paramref name="beforeId"/> (null: any), from the smallest and largest ids — two index
    /// reads. Ids are given in order and only the oldest rows are ever deleted, so the ids in between are all there, but
    /// for a row lost to a failed write.
    /// </summary>
    private int IdsBelow(long? beforeId)
    {
        BsonValue? first = logs.Query().OrderBy("$._id").Select("$._id").Limit(1).FirstOrDefault()?["_id"];
        BsonValue? last = logs.Query().Where(LogSpine.ById.Range(new LogQuery(BeforeId: beforeId))).OrderBy("$._id", Query.Descending)
            .Select("$._id").Limit(1).FirstOrDefault()?["_id"];
        return first is null || last is null || last.AsInt64 < first.AsInt64 ? 0 : (int)Math.Min(last.AsInt64 - first.AsInt64 + 1, int.MaxValue);
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
