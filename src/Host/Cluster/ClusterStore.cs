using System.Globalization;
using StackExchange.Redis;

namespace Quota.Host.Cluster;

/// <summary>
/// The shared store of cluster mode (a Redis-protocol server: Redis 7, Valkey, Garnet): the source of truth for the
/// configuration and for every account's counters. Every call is one round trip; the scripts are in <see cref="StoreScripts"/>
/// (StackExchange.Redis sends each once, then by its hash).
/// </summary>
public sealed class ClusterStore : IAsyncDisposable
{
    private readonly ConnectionMultiplexer connection;
    private readonly IDatabase db;
    private readonly string prefix;
    private long roundTrips;

    /// <summary>How many keys one bulk call (an MGET, a SCAN page's pipelined checks) carries.</summary>
    internal const int BatchSize = 1_000;

    private ClusterStore(ConnectionMultiplexer connection, string prefix, string nodeId)
    {
        this.connection = connection;
        db = connection.GetDatabase();
        this.prefix = prefix;
        NodeId = nodeId;
        EventsChannel = RedisChannel.Literal(prefix + "events");
        epochKey = prefix + "epoch";
        rebuildKey = prefix + "rebuild";
    }

    private readonly RedisKey epochKey;
    private readonly RedisKey rebuildKey;
    private volatile string epoch = "";

    public string NodeId { get; }

    /// <summary>
    /// The store epoch this node knows (docs/cluster.md "Store data loss"): every script that reads or writes counters or
    /// configuration runs only while the store carries it, and fails with <see cref="StoreScripts.EpochError"/> otherwise.
    /// </summary>
    public string Epoch
    {
        get => epoch;
        set => epoch = value;
    }

    /// <summary>Whether <paramref name="exception"/> is a guarded script's refusal of a store that is not the one this node knows.</summary>
    public static bool IsEpochError(Exception exception) =>
        exception is RedisServerException && exception.Message.StartsWith(StoreScripts.EpochError, StringComparison.Ordinal);

    /// <summary>The keys of a guarded script: the epoch marker, the rebuild record, then <paramref name="keys"/>.</summary>
    private RedisKey[] GuardedKeys(params RedisKey[] keys) => [epochKey, rebuildKey, .. keys];

    /// <summary>The arguments of a guarded script: the epoch, then <paramref name="args"/>.</summary>
    private RedisValue[] GuardedArgs(params RedisValue[] args) => [epoch, .. args];

    /// <summary>Calls this node made to the store (each one round trip; a pipelined batch counts once).</summary>
    public long RoundTrips => Interlocked.Read(ref roundTrips);

    private IDatabase Db
    {
        get
        {
            Interlocked.Increment(ref roundTrips);
            return db;
        }
    }

    /// <summary>Where configuration saves announce their version.</summary>
    public RedisChannel EventsChannel { get; }

    public static async Task<ClusterStore> ConnectAsync(ClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ConfigurationOptions config = ConfigurationOptions.Parse(options.Store);
        config.AbortOnConnectFail = false; // a store that is down at start is retried, not fatal after the first sync
        ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        return new ClusterStore(connection, options.KeyPrefix, options.NodeId);
    }

    public ISubscriber Subscriber => connection.GetSubscriber();

    /// <summary>What every account's store key starts with.</summary>
    public string AccountsPrefix => prefix + "a:";

    public string WalletAccount(int userId) => string.Create(CultureInfo.InvariantCulture, $"{AccountsPrefix}w:{userId}");

    public string BudgetAccount(int tokenId) => string.Create(CultureInfo.InvariantCulture, $"{AccountsPrefix}k:{tokenId}");

    public string WindowAccount(int tokenId, int policyIndex, long windowStartMs) =>
        string.Create(CultureInfo.InvariantCulture, $"{AccountsPrefix}p:{tokenId}:{policyIndex}:{windowStartMs}");

    private string Document(string member) => prefix + "doc:" + member;

    private RedisKey Changes => prefix + "changes";

    private RedisKey Version => prefix + "version";

    /// <summary>The next id for a user ("u") or key ("t"): ids are the store's, the same on every node.</summary>
    public int NextId(string kind) => checked((int)Db.ScriptEvaluate(StoreScripts.NextId, GuardedKeys((RedisKey)(prefix + "ids:" + kind)), GuardedArgs()));

    /// <summary>Asks for a lease on <paramref name="account"/>; see <see cref="StoreScripts.Grant"/>.</summary>
    public async Task<GrantReply> GrantAsync(string account, long need, long want, long quota, TimeSpan lease, long expireAtMs, bool graceful)
    {
        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(StoreScripts.Grant, GuardedKeys((RedisKey)account),
            GuardedArgs(NodeId, need, want, quota, (long)lease.TotalMilliseconds, expireAtMs, graceful ? 1 : 0)).ConfigureAwait(false))!;
        return new GrantReply((long)reply[0], (long)reply[1], (long)reply[2] == 1);
    }

    /// <summary>Reports this node's cumulative usage of several accounts in one round trip; see <see cref="StoreScripts.Report"/>.</summary>
    public async Task<ReportReply[]> ReportAsync(IReadOnlyList<AccountReport> reports, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var keys = new RedisKey[2 + reports.Count];
        (keys[0], keys[1]) = (epochKey, rebuildKey);
        var args = new RedisValue[3 + 4 * reports.Count];
        (args[0], args[1], args[2]) = (epoch, NodeId, (long)lease.TotalMilliseconds);
        for (int i = 0; i < reports.Count; i++)
        {
            AccountReport r = reports[i];
            keys[2 + i] = r.Account;
            args[3 + 4 * i] = r.UsedTotal;
            args[4 + 4 * i] = r.Quota;
            args[5 + 4 * i] = r.Pauses ? 1 : 0;
            args[6 + 4 * i] = r.ExpireAtMs;
        }

        var rows = (RedisResult[])(await Db.ScriptEvaluateAsync(StoreScripts.Report, keys, args).ConfigureAwait(false))!;
        return rows.Select(row => (RedisResult[])row!).Select(row => new ReportReply((long)row[0], (long)row[1] == 1, (long)row[2])).ToArray();
    }

    /// <summary>
    /// Takes or renews this process's claim on its NodeId for <paramref name="ttl"/>; answers with the ms another
    /// process's claim has left (0: this one holds it), the store's epoch, and the cluster's members.
    /// </summary>
    public async Task<ClaimReply> ClaimNodeAsync(string processToken, TimeSpan ttl)
    {
        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(StoreScripts.ClaimNode, [prefix + "node:" + NodeId, epochKey, prefix + "members"],
            [processToken, (long)ttl.TotalMilliseconds, NodeId]).ConfigureAwait(false))!;
        var members = new List<(string Node, long SeenAgoMs)>();
        for (int i = 2; i + 1 < reply.Length; i += 2)
        {
            members.Add(((string)reply[i]!, (long)reply[i + 1]));
        }

        return new ClaimReply((long)reply[0], (string)reply[1]!, members);
    }

    /// <summary>
    /// The epoch of a store that has none yet (a new cluster, or one a version without epochs wrote): <paramref name="candidate"/>
    /// unless another node set one first. Only a node that never knew an epoch calls this (docs/cluster.md).
    /// </summary>
    public async Task<string> CreateEpochAsync(string candidate)
    {
        await Db.StringSetAsync(epochKey, candidate, when: When.NotExists).ConfigureAwait(false);
        return (string)(await Db.StringGetAsync(epochKey).ConfigureAwait(false))!;
    }

    /// <summary>Starts (or joins, or re-aims) the rebuild of an emptied store whose nodes knew <paramref name="from"/>; see <see cref="StoreScripts.BeginRebuild"/>.</summary>
    public async Task<(bool Started, string EpochOrReason)> BeginRebuildAsync(string from, string to, IReadOnlyList<string> nodes)
    {
        RedisValue[] args = [from, to, .. nodes.Select(n => (RedisValue)n)];
        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(StoreScripts.BeginRebuild, [epochKey, rebuildKey], args).ConfigureAwait(false))!;
        return ((long)reply[0] == 1, (string)reply[1]!);
    }

    /// <summary>The store's epoch ("" : none), the epoch a rebuild under way started from ("" : none), and the nodes it waits for.</summary>
    public async Task<RebuildStatus> RebuildStatusAsync()
    {
        var reply = (RedisResult[])(await Db.ScriptEvaluateAsync(StoreScripts.RebuildStatus, [epochKey, rebuildKey]).ConfigureAwait(false))!;
        return new RebuildStatus((string)reply[0]!, (string)reply[1]!, [.. reply.Skip(2).Select(r => (string)r!)]);
    }

    /// <summary>Writes documents this node kept into a store being rebuilt from <paramref name="from"/> (the newest version of each wins).</summary>
    public async Task MergeDocumentsAsync(string from, long appliedVersion, IReadOnlyList<LedgerDocument> documents)
    {
        var keys = new List<RedisKey> { epochKey, rebuildKey, Changes, Version, prefix + "ids:u", prefix + "ids:t" };
        var args = new List<RedisValue> { from, appliedVersion };
        foreach (LedgerDocument doc in documents)
        {
            keys.Add(Document(doc.Member));
            keys.Add(doc.Member.StartsWith("q:", StringComparison.Ordinal) ? AccountsPrefix + doc.Member[2..] : Document(doc.Member));
            args.Add(doc.Member);
            args.Add(doc.Version);
            args.Add(doc.Value);
        }

        await Db.ScriptEvaluateAsync(StoreScripts.MergeDocuments, [.. keys], [.. args]).ConfigureAwait(false);
    }

    /// <summary>Counts this node's usage of <paramref name="reports"/>' accounts into a store being rebuilt, with a lease of what its open reservations hold.</summary>
    public async Task ContributeAsync(string from, IReadOnlyList<(AccountReport Report, long Held)> reports, TimeSpan lease)
    {
        var keys = new List<RedisKey> { epochKey, rebuildKey };
        var args = new List<RedisValue> { from, NodeId, (long)lease.TotalMilliseconds };
        foreach ((AccountReport r, long held) in reports)
        {
            keys.Add(r.Account);
            args.AddRange([r.UsedTotal, r.Quota, r.Pauses ? 1 : 0, r.ExpireAtMs, held]);
        }

        await Db.ScriptEvaluateAsync(StoreScripts.Contribute, [.. keys], [.. args]).ConfigureAwait(false);
    }

    /// <summary>This node has contributed all it has to the rebuild from <paramref name="from"/>; returns how many nodes the rebuild still waits for.</summary>
    public async Task<long> ContributedAsync(string from) =>
        (long)await Db.ScriptEvaluateAsync(StoreScripts.Contributed, [epochKey, rebuildKey], [from, NodeId]).ConfigureAwait(false);

    public Task ReleaseNodeAsync(string processToken) => Db.ScriptEvaluateAsync(StoreScripts.ReleaseNode, [prefix + "node:" + NodeId], [processToken]);

    /// <summary>
    /// The accounts on which this node holds a lease (live or lapsed), by a SCAN of the store's accounts; each SCAN page's
    /// accounts are checked in one pipelined batch, so a restart over 100k accounts costs pages, not a round trip per account.
    /// </summary>
    public async Task<List<string>> LeasedAccountsAsync()
    {
        var leased = new List<string>();
        var page = new List<RedisKey>(BatchSize);
        IServer server = connection.GetServers()[0];
        await foreach (RedisKey key in server.KeysAsync(pattern: prefix + "a:*", pageSize: BatchSize).ConfigureAwait(false))
        {
            page.Add(key);
            if (page.Count == BatchSize)
            {
                await AddLeasedAsync(page, leased).ConfigureAwait(false);
                page.Clear();
            }
        }

        await AddLeasedAsync(page, leased).ConfigureAwait(false);
        return leased;
    }

    private async Task AddLeasedAsync(List<RedisKey> accounts, List<string> leased)
    {
        if (accounts.Count == 0)
        {
            return;
        }

        IBatch batch = Db.CreateBatch();
        var held = new Task<bool>[accounts.Count];
        for (int i = 0; i < accounts.Count; i++)
        {
            held[i] = batch.HashExistsAsync(accounts[i], "h:" + NodeId);
        }

        batch.Execute();
        await Task.WhenAll(held).ConfigureAwait(false);
        for (int i = 0; i < accounts.Count; i++)
        {
            if (held[i].Result)
            {
                leased.Add(accounts[i].ToString());
            }
        }
    }

    public Task SetLeaseAsync(string account, long units, TimeSpan lease) =>
        Db.ScriptEvaluateAsync(StoreScripts.SetLease, GuardedKeys((RedisKey)account), GuardedArgs(NodeId, units, (long)lease.TotalMilliseconds));

    /// <summary>Releases this node's whole lease of the account (see <see cref="StoreScripts.ReleaseLease"/>).</summary>
    public Task ReleaseLeaseAsync(string account) =>
        Db.ScriptEvaluateAsync(StoreScripts.ReleaseLease, GuardedKeys((RedisKey)account), GuardedArgs(NodeId));

    public Task GiveBackAsync(string account, long units) => Db.ScriptEvaluateAsync(StoreScripts.GiveBack, GuardedKeys((RedisKey)account), GuardedArgs(NodeId, units));

    /// <summary>An account as the store has it: the cluster-wide numbers.</summary>
    public AccountReading ReadAccount(string account)
    {
        var reply = (RedisResult[])Db.ScriptEvaluate(StoreScripts.Read, GuardedKeys((RedisKey)account), GuardedArgs())!;
        return new AccountReading((long)reply[0], (long)reply[1], (long)reply[2], (long)reply[3] == 1);
    }

    /// <summary>
    /// Several accounts as the store has them, in one round trip (<see cref="StoreScripts.ReadMany"/>): what a listing's
    /// page of keys reads, where a <see cref="ReadAccount"/> per account would cost a round trip each.
    /// </summary>
    public Dictionary<string, AccountReading> ReadAccounts(IReadOnlyList<string> accounts)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        var readings = new Dictionary<string, AccountReading>(accounts.Count);
        if (accounts.Count == 0)
        {
            return readings;
        }

        var keys = new RedisKey[2 + accounts.Count];
        (keys[0], keys[1]) = (epochKey, rebuildKey);
        for (int i = 0; i < accounts.Count; i++)
        {
            keys[2 + i] = accounts[i];
        }

        var reply = (RedisResult[])Db.ScriptEvaluate(StoreScripts.ReadMany, keys, GuardedArgs())!;
        for (int i = 0; i < accounts.Count; i++)
        {
            readings[accounts[i]] = new AccountReading((long)reply[4 * i], (long)reply[4 * i + 1], (long)reply[4 * i + 2], (long)reply[4 * i + 3] == 1);
        }

        return readings;
    }

    /// <summary>Tops up (delta &gt; 0) or debits a wallet; false for a debit that what is left does not cover.</summary>
    public bool Credit(int userId, long delta)
    {
        string wallet = WalletAccount(userId);
        return (long)Db.ScriptEvaluate(StoreScripts.Credit, GuardedKeys(wallet, Changes, Version, Document(QuotaMember(wallet))),
            GuardedArgs(delta, QuotaMember(wallet), EventsChannel.ToString())) == 1;
    }

    public void ResetWindow(string account) => Db.ScriptEvaluate(StoreScripts.ResetWindow, GuardedKeys((RedisKey)account), GuardedArgs());

    /// <summary>The member under which a wallet's or key budget's quota is kept as a document (<c>q:w:7</c>): every node keeps a copy, so a rebuilt store gets it back.</summary>
    public string QuotaMember(string account) => "q:" + account[AccountsPrefix.Length..];

    /// <summary>
    /// Saves a user's or key's document, and (<paramref name="budgetAccount"/>, <paramref name="budget"/> ≥ 0) sets what
    /// is left of its account, in one script: all of it or none. Returns the configuration version it made, or 0 (nothing
    /// written) when <paramref name="expectedVersion"/> (≥ 0) is no longer the store's configuration version.
    /// </summary>
    public long SaveDocument(string member, string json, string budgetAccount, long budget, long expectedVersion = -1) =>
        (long)Db.ScriptEvaluate(StoreScripts.SaveDocument, GuardedKeys(Document(member), Changes, Version, budgetAccount, Document(QuotaMember(budgetAccount))),
            GuardedArgs(member, json, EventsChannel.ToString(), budget, QuotaMember(budgetAccount), expectedVersion));

    /// <summary>The members (<c>u:7</c>, <c>t:12</c>) changed after <paramref name="version"/>, oldest first, with their versions.</summary>
    public (string Member, long Version)[] ChangesAfter(long version) =>
        ToChanges(Db.SortedSetRangeByScoreWithScores(Changes, version, double.PositiveInfinity, Exclude.Start));

    /// <inheritdoc cref="ChangesAfter"/>
    public async Task<(string Member, long Version)[]> ChangesAfterAsync(long version) =>
        ToChanges(await Db.SortedSetRangeByScoreWithScoresAsync(Changes, version, double.PositiveInfinity, Exclude.Start).ConfigureAwait(false));

    /// <summary>
    /// The current documents of <paramref name="changes"/>' members (null: none stored), by MGETs of
    /// <see cref="BatchSize"/> keys: a joining node reads 100k documents in 100 calls, and no single call holds the store long.
    /// </summary>
    public string?[] LoadDocuments((string Member, long Version)[] changes)
    {
        var documents = new string?[changes.Length];
        for (int from = 0; from < changes.Length; from += BatchSize)
        {
            ToDocuments(Db.StringGet(DocumentKeys(changes, from)), documents, from);
        }

        return documents;
    }

    /// <inheritdoc cref="LoadDocuments"/>
    /// <remarks>The MGETs are sent together (pipelined) and awaited together.</remarks>
    public async Task<string?[]> LoadDocumentsAsync((string Member, long Version)[] changes)
    {
        var reads = new Task<RedisValue[]>[(changes.Length + BatchSize - 1) / BatchSize];
        for (int chunk = 0; chunk < reads.Length; chunk++)
        {
            reads[chunk] = Db.StringGetAsync(DocumentKeys(changes, chunk * BatchSize));
        }

        var documents = new string?[changes.Length];
        for (int chunk = 0; chunk < reads.Length; chunk++)
        {
            ToDocuments(await reads[chunk].ConfigureAwait(false), documents, chunk * BatchSize);
        }

        return documents;
    }

    private static (string Member, long Version)[] ToChanges(SortedSetEntry[] entries) =>
        entries.Select(e => (e.Element.ToString(), (long)e.Score)).ToArray();

    private RedisKey[] DocumentKeys((string Member, long Version)[] changes, int from)
    {
        var keys = new RedisKey[Math.Min(BatchSize, changes.Length - from)];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = Document(changes[from + i].Member);
        }

        return keys;
    }

    private static void ToDocuments(RedisValue[] values, string?[] documents, int from)
    {
        for (int i = 0; i < values.Length; i++)
        {
            documents[from + i] = values[i];
        }
    }

    public async ValueTask DisposeAsync() => await connection.DisposeAsync().ConfigureAwait(false);
}

/// <summary>A claim's answer: the ms another process's claim has left (0: held here), the store's epoch ("" : none), the members and how long ago each was seen.</summary>
public sealed record ClaimReply(long HeldElsewhereMs, string StoreEpoch, List<(string Node, long SeenAgoMs)> Members);

/// <summary>The store's epoch ("" : none), the epoch a rebuild under way started from ("" : none), and the nodes it waits for.</summary>
public sealed record RebuildStatus(string StoreEpoch, string RebuildingFrom, string[] WaitingFor);

public readonly record struct GrantReply(long Granted, long Used, bool Paused);

public readonly record struct ReportReply(long Used, bool Paused, long Lease);

public readonly record struct AccountReading(long Quota, long Used, long Leased, bool Paused);

/// <param name="Account">The account's store key.</param>
/// <param name="UsedTotal">What this node has used of it in total (its recovered log included).</param>
/// <param name="Quota">The quota to store (-1: keep the stored one; wallets and budgets are set by their saves).</param>
/// <param name="Pauses">A disable_token policy: the account pauses the key once used up.</param>
/// <param name="ExpireAtMs">When the store may forget it (a window's end and a day), or 0.</param>
public readonly record struct AccountReport(string Account, long UsedTotal, long Quota, bool Pauses, long ExpireAtMs);
