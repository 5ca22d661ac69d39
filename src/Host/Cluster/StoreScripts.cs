namespace Quota.Host.Cluster;

/// <summary>
/// The server-side scripts of cluster mode (docs/cluster.md). Each runs atomically in the store, so the store, not the
/// nodes, decides how much headroom each node holds.
/// <para>An account is one hash: <c>q</c> its quota, <c>u</c> what every node reported used, <c>p</c> 1 once a
/// disable_token policy has paused the key for this window, and per node N: <c>u:N</c> the node's cumulative usage as
/// it last reported it, <c>h:N</c> its lease (headroom it may still spend), <c>e:N</c> when that lease lapses (store
/// time, ms). Headroom = q − u − the leases that have not lapsed.</para>
/// <para>Reports are cumulative (the node sends what it has used in total, from its own recovered log), so sending
/// one twice, or again after a crash, adds nothing twice.</para>
/// <para>The store's <c>epoch</c> marker names the data it holds; <c>rebuild</c> (a hash: <c>from</c> the old epoch,
/// <c>n:N</c> a node still to contribute, <c>c:N</c> one that has) exists while a store that lost its data is rebuilt
/// from the nodes. A wallet's or key budget's quota is also kept as a document (<c>q:w:7</c>, <c>q:k:12</c>) so that every
/// node has a copy of it.</para>
/// </summary>
internal static class StoreScripts
{
    /// <summary>The error a guarded script answers when the store is not the one the node knows (docs/cluster.md "Store data loss").</summary>
    public const string EpochError = "QE_EPOCH";

    // Every script that reads or writes counters or configuration runs only against the store epoch the node knows
    // (KEYS[1] the epoch marker, KEYS[2] the rebuild record, ARGV[1] the node's epoch), and not while a rebuild runs: a
    // node never admits, saves or reads against an emptied store, never re-opens a window from one.
    private const string Guard = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 1 then
          return redis.error_reply('QE_EPOCH the store is not the one this node knows (lost or being rebuilt)')
        end
        """ + "\n";

    // Reports, give-backs and lease settings need only the epoch: a node that contributed to a rebuild keeps its leases
    // renewed while the rebuild waits for the other nodes (nothing is granted until it ends).
    private const string EpochGuard = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return redis.error_reply('QE_EPOCH the store is not the one this node knows (lost)')
        end
        """ + "\n";

    // Shared by the scripts: the store's clock, and the sum of the leases that have not lapsed (a lapsed lease is dropped).
    private const string Clock = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function live_leases(key)
          local f = redis.call('HGETALL', key)
          local held, expiry = {}, {}
          for i = 1, #f, 2 do
            local k = f[i]
            if string.sub(k, 1, 2) == 'h:' then held[string.sub(k, 3)] = tonumber(f[i + 1])
            elseif string.sub(k, 1, 2) == 'e:' then expiry[string.sub(k, 3)] = tonumber(f[i + 1]) end
          end
          local sum = 0
          for n, h in pairs(held) do
            if (expiry[n] or 0) > now then sum = sum + h else redis.call('HDEL', key, 'h:' .. n, 'e:' .. n) end
          end
          return sum
        end
        """ + "\n";

    /// <summary>
    /// KEYS: epoch, rebuild, the account. ARGV: epoch, node, need, want, quota (-1: keep the stored one), lease ms,
    /// expire-at ms (0: none), graceful (1/0). Grants min(headroom, max(need, min(want, headroom/4))): leases shrink as
    /// headroom shrinks, and near exhaustion a node gets just what one request needs. Strict: nothing unless the whole need
    /// fits; graceful: whatever headroom is left. Returns {granted, used, paused (1/0)}.
    /// </summary>
    public const string Grant = Guard + Clock + """
        local key, node = KEYS[3], ARGV[2]
        local need, want, quota = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
        local lease, expire_at, graceful = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'
        if quota >= 0 then redis.call('HSET', key, 'q', quota) else quota = tonumber(redis.call('HGET', key, 'q') or '0') end
        if expire_at > 0 then redis.call('PEXPIREAT', key, expire_at) end
        local used = tonumber(redis.call('HGET', key, 'u') or '0')
        if redis.call('HGET', key, 'p') == '1' then return {0, used, 1} end
        local headroom = quota - used - live_leases(key)
        local grant = 0
        if headroom >= need or (graceful and headroom > 0) then
          grant = math.min(headroom, math.max(need, math.min(want, math.floor(headroom / 4))))
        end
        if grant > 0 then
          redis.call('HINCRBY', key, 'h:' .. node, grant)
        end
        if tonumber(redis.call('HGET', key, 'h:' .. node) or '0') > 0 then
          redis.call('HSET', key, 'e:' .. node, now + lease)
        end
        return {grant, used, 0}
        """;

    // One account's report (shared by Report and Contribute): what is new in the node's cumulative total is added to
    // 'u' and taken off the node's lease; the quota stored (unless -1); the account paused once used up (pauses).
    private const string AddUsage = """
        local function add_usage(key, node, total, quota, pauses, expire_at)
          if quota >= 0 then redis.call('HSET', key, 'q', quota) else quota = tonumber(redis.call('HGET', key, 'q') or '0') end
          if expire_at > 0 then redis.call('PEXPIREAT', key, expire_at) end
          local before = tonumber(redis.call('HGET', key, 'u:' .. node) or '0')
          if total > before then
            local d = total - before
            redis.call('HINCRBY', key, 'u', d)
            redis.call('HSET', key, 'u:' .. node, total)
            local h = tonumber(redis.call('HGET', key, 'h:' .. node) or '0')
            if h > 0 then redis.call('HSET', key, 'h:' .. node, math.max(0, h - d)) end
          end
          local used = tonumber(redis.call('HGET', key, 'u') or '0')
          local paused = redis.call('HGET', key, 'p') == '1'
          if pauses and not paused and quota > 0 and used >= quota then
            redis.call('HSET', key, 'p', 1)
            paused = true
          end
          return used, paused
        end
        """ + "\n";

    /// <summary>
    /// KEYS: epoch, rebuild, then the accounts. ARGV: epoch, node, lease ms, then per account: cumulative used by this
    /// node, quota (-1: keep), pauses (1: a disable_token policy), expire-at ms (0: none). Adds what is new to <c>u</c>,
    /// takes it off the node's lease, renews the lease (unless it had lapsed: then it is gone), and pauses the account once
    /// it is used up (pauses=1). Returns per account {used, paused, the node's lease now}.
    /// </summary>
    public const string Report = EpochGuard + Clock + AddUsage + """
        local node, lease = ARGV[2], tonumber(ARGV[3])
        local out = {}
        for i = 3, #KEYS do
          local key = KEYS[i]
          local b = 3 + (i - 3) * 4
          local used, paused = add_usage(key, node, tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), ARGV[b + 3] == '1', tonumber(ARGV[b + 4]))
          local held = tonumber(redis.call('HGET', key, 'h:' .. node) or '0')
          local lapsed = held > 0 and tonumber(redis.call('HGET', key, 'e:' .. node) or '0') <= now
          if lapsed then
            redis.call('HDEL', key, 'h:' .. node, 'e:' .. node)
            held = 0
          elseif held > 0 then
            redis.call('HSET', key, 'e:' .. node, now + lease)
          end
          out[i - 2] = {used, paused and 1 or 0, held}
        end
        return out
        """;

    /// <summary>KEYS: epoch, rebuild, the account; ARGV: epoch, node, units. Gives back part of the node's lease.</summary>
    public const string GiveBack = EpochGuard + """
        local h = tonumber(redis.call('HGET', KEYS[3], 'h:' .. ARGV[2]) or '0')
        if h > 0 then redis.call('HSET', KEYS[3], 'h:' .. ARGV[2], math.max(0, h - tonumber(ARGV[3]))) end
        return 0
        """;

    /// <summary>
    /// KEYS: epoch, rebuild, the account; ARGV: epoch, node. Releases the node's whole lease of the account: it holds
    /// nothing there (no open reservation), so whatever the store still counts as its lease is headroom again.
    /// </summary>
    public const string ReleaseLease = EpochGuard + """
        redis.call('HDEL', KEYS[3], 'h:' .. ARGV[2], 'e:' .. ARGV[2])
        return 0
        """;

    /// <summary>
    /// KEYS: epoch, rebuild, the account; ARGV: epoch, node, units, lease ms. Sets the node's lease to exactly <c>units</c>
    /// (0: none): at a restart, what its recovered open reservations still hold; whatever else its last run had leased is
    /// gone with it.
    /// </summary>
    public const string SetLease = EpochGuard + Clock + """
        if tonumber(ARGV[3]) > 0 then
          redis.call('HSET', KEYS[3], 'h:' .. ARGV[2], ARGV[3], 'e:' .. ARGV[2], now + tonumber(ARGV[4]))
        else
          redis.call('HDEL', KEYS[3], 'h:' .. ARGV[2], 'e:' .. ARGV[2])
        end
        return 0
        """;

    /// <summary>
    /// KEYS: the node's claim, the epoch marker, the members hash; ARGV: this process's token, ms, node. Takes or renews
    /// the claim on a NodeId and records the node as a member (seen now). Returns {0, or while another process holds the
    /// claim the ms it has left (a live holder renews it, so that number goes up); the store's epoch ('' : none); then
    /// each member and when it was last seen (store ms)}. Members not seen for a day are forgotten.
    /// </summary>
    public const string ClaimNode = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local left = 0
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then
          left = math.max(1, redis.call('PTTL', KEYS[1]))
        else
          redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
          redis.call('HSET', KEYS[3], ARGV[3], now)
        end
        local out = {left, redis.call('GET', KEYS[2]) or ''}
        local members = redis.call('HGETALL', KEYS[3])
        for i = 1, #members, 2 do
          if tonumber(members[i + 1]) < now - 86400000 then redis.call('HDEL', KEYS[3], members[i])
          else out[#out + 1] = members[i]; out[#out + 1] = now - tonumber(members[i + 1]) end
        end
        return out
        """;

    /// <summary>KEYS[1] the node's claim; ARGV: this process's token. Lets the claim go (a clean stop).</summary>
    public const string ReleaseNode = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>KEYS: epoch, rebuild, the account; ARGV: epoch. Returns {quota, used, leased (live leases), paused}.</summary>
    public const string Read = Guard + Clock + """
        local leased = live_leases(KEYS[3])
        return {tonumber(redis.call('HGET', KEYS[3], 'q') or '0'), tonumber(redis.call('HGET', KEYS[3], 'u') or '0'), leased,
          redis.call('HGET', KEYS[3], 'p') == '1' and 1 or 0}
        """;

    /// <summary>KEYS: epoch, rebuild, then accounts; ARGV: epoch. <see cref="Read"/> of each, in one call: {quota, used, leased, paused} per account, flattened in KEYS' order.</summary>
    public const string ReadMany = Guard + Clock + """
        local out = {}
        for i = 3, #KEYS do
          local key = KEYS[i]
          local leased = live_leases(key)
          out[#out + 1] = tonumber(redis.call('HGET', key, 'q') or '0')
          out[#out + 1] = tonumber(redis.call('HGET', key, 'u') or '0')
          out[#out + 1] = leased
          out[#out + 1] = redis.call('HGET', key, 'p') == '1' and 1 or 0
        end
        return out
        """;

    // Records an account's quota as a versioned document (q:<account>), so that every node keeps a copy of it and a rebuilt
    // store gets it back. KEYS[4] changes, KEYS[5] version; the account's quota document key and member are passed in.
    private const string RecordQuota = """
        local function record_quota(doc, member, quota, channel)
          redis.call('SET', doc, quota)
          local version = redis.call('INCR', KEYS[5])
          redis.call('ZADD', KEYS[4], version, member)
          redis.call('PUBLISH', channel, version)
          return version
        end
        """ + "\n";

    /// <summary>
    /// KEYS: epoch, rebuild, a wallet, changes, version, the wallet's quota document. ARGV: epoch, delta, the quota
    /// document's member, events channel. A top-up adds to the quota; a debit only if what is left covers it (the leases
    /// count as spent). Returns 1, or 0 for a refused debit.
    /// </summary>
    public const string Credit = Guard + Clock + RecordQuota + """
        local delta = tonumber(ARGV[2])
        if delta < 0 then
          local left = tonumber(redis.call('HGET', KEYS[3], 'q') or '0') - tonumber(redis.call('HGET', KEYS[3], 'u') or '0') - live_leases(KEYS[3])
          if left + delta < 0 then return 0 end
        end
        local quota = redis.call('HINCRBY', KEYS[3], 'q', delta)
        record_quota(KEYS[6], ARGV[3], quota, ARGV[4])
        return 1
        """;

    /// <summary>KEYS: epoch, rebuild, a policy window; ARGV: epoch. Manual reset: usage and pause cleared; the nodes' cumulative counts stay, so later reports add only new usage.</summary>
    public const string ResetWindow = Guard + """
        redis.call('HSET', KEYS[3], 'u', 0, 'p', 0)
        return 0
        """;

    /// <summary>KEYS: epoch, rebuild, the id counter; ARGV: epoch. The next id of a user or key.</summary>
    public const string NextId = Guard + """
        return redis.call('INCR', KEYS[3])
        """;

    /// <summary>
    /// Saves one configuration document. KEYS: epoch, rebuild, document, change set, version counter, budget account
    /// (or the document again: none), the budget's quota document. ARGV: epoch, member, JSON, events channel, budget (-1:
    /// unchanged; else quota := used + budget, so what is left is the budget), the quota document's member, and the
    /// configuration version the save was checked against (-1: none; else nothing is written unless it is still the store's
    /// version: an admin save's version check, docs/api.md "Versions").
    /// Returns the new configuration version, or 0 when the checked version is no longer the store's.
    /// </summary>
    public const string SaveDocument = Guard + RecordQuota + """
        local expected = tonumber(ARGV[7] or '-1')
        if expected >= 0 and tonumber(redis.call('GET', KEYS[5]) or '0') ~= expected then
          return 0
        end
        redis.call('SET', KEYS[3], ARGV[3])
        local version = redis.call('INCR', KEYS[5])
        redis.call('ZADD', KEYS[4], version, ARGV[2])
        redis.call('PUBLISH', ARGV[4], version)
        local budget = tonumber(ARGV[5])
        if budget >= 0 then
          local quota = tonumber(redis.call('HGET', KEYS[6], 'u') or '0') + budget
          redis.call('HSET', KEYS[6], 'q', quota)
          version = record_quota(KEYS[7], ARGV[6], quota, ARGV[4])
        end
        return version
        """;

    /// <summary>
    /// KEYS: epoch, rebuild. ARGV: the epoch an emptied store's nodes know, a new epoch, then the nodes that must
    /// contribute. Starts rebuilding a store that lost its data: the new epoch is set and every node that knew the old one
    /// contributes (<see cref="MergeDocuments"/>, <see cref="Contribute"/>, <see cref="Contributed"/>); until the listed
    /// ones have, nothing is admitted. A rebuild of the same old epoch already under way is kept (its nodes replaced by
    /// those given, if any). Returns {1, the rebuild's epoch}, or {0, why not}.
    /// </summary>
    public const string BeginRebuild = """
        local function need(nodes_from)
          local f = redis.call('HGETALL', KEYS[2])
          for i = 1, #f, 2 do if string.sub(f[i], 1, 2) == 'n:' then redis.call('HDEL', KEYS[2], f[i]) end end
          for i = nodes_from, #ARGV do
            if redis.call('HEXISTS', KEYS[2], 'c:' .. ARGV[i]) == 0 then redis.call('HSET', KEYS[2], 'n:' .. ARGV[i], 1) end
          end
          local waiting = 0
          for _, k in ipairs(redis.call('HKEYS', KEYS[2])) do if string.sub(k, 1, 2) == 'n:' then waiting = waiting + 1 end end
          if waiting == 0 then redis.call('DEL', KEYS[2]) end
        end
        if redis.call('EXISTS', KEYS[2]) == 1 then
          if redis.call('HGET', KEYS[2], 'from') ~= ARGV[1] then return {0, 'another rebuild is under way'} end
          if #ARGV >= 3 then need(3) end
          return {1, redis.call('GET', KEYS[1])}
        end
        local current = redis.call('GET', KEYS[1])
        if current == ARGV[1] then return {0, 'the store has not lost its data'} end
        if current then return {0, 'the store carries another epoch: it was not emptied, or a node started a new cluster on it'} end
        redis.call('SET', KEYS[1], ARGV[2])
        redis.call('HSET', KEYS[2], 'from', ARGV[1])
        need(3)
        return {1, ARGV[2]}
        """;

    /// <summary>KEYS: epoch, rebuild. Returns {the store's epoch ('' : none), the epoch being rebuilt from ('' : no rebuild), then the nodes still to contribute}.</summary>
    public const string RebuildStatus = """
        local out = {redis.call('GET', KEYS[1]) or '', redis.call('HGET', KEYS[2], 'from') or ''}
        local f = redis.call('HKEYS', KEYS[2])
        for i = 1, #f do if string.sub(f[i], 1, 2) == 'n:' then out[#out + 1] = string.sub(f[i], 3) end end
        return out
        """;

    // A contribution belongs to the rebuild of the epoch its node knew (ARGV[1] that old epoch).
    private const string RebuildGuard = """
        if redis.call('HGET', KEYS[2], 'from') ~= ARGV[1] then
          return redis.error_reply("QE_EPOCH no rebuild of this node's epoch is under way")
        end
        """ + "\n";

    /// <summary>
    /// KEYS: epoch, rebuild, change set, version counter, user id counter, key id counter, then per document its store key
    /// and (a quota document) its account (else the document key again). ARGV: the old epoch, the configuration version
    /// the node has applied, then per document its member, version and value. A document newer than the store's copy is
    /// written (the newest version wins); a quota document also sets its account's quota; the counters never go below what
    /// a document shows, the version counter never below what a node applied (so no later save reuses a version it has).
    /// </summary>
    public const string MergeDocuments = RebuildGuard + """
        if tonumber(redis.call('GET', KEYS[4]) or '0') < tonumber(ARGV[2]) then redis.call('SET', KEYS[4], ARGV[2]) end
        for i = 0, (#ARGV - 2) / 3 - 1 do
          local member, version, value = ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3]), ARGV[5 + i * 3]
          local doc, account = KEYS[7 + i * 2], KEYS[8 + i * 2]
          local stored = redis.call('ZSCORE', KEYS[3], member)
          if not stored or tonumber(stored) < version then
            redis.call('SET', doc, value)
            redis.call('ZADD', KEYS[3], version, member)
            if string.sub(member, 1, 2) == 'q:' then redis.call('HSET', account, 'q', value) end
          end
          if tonumber(redis.call('GET', KEYS[4]) or '0') < version then redis.call('SET', KEYS[4], version) end
          local kind, id = string.sub(member, 1, 1), tonumber(string.sub(member, 3))
          local counter = kind == 'u' and KEYS[5] or (kind == 't' and KEYS[6] or nil)
          if counter and tonumber(redis.call('GET', counter) or '0') < id then redis.call('SET', counter, id) end
        end
        return 0
        """;

    /// <summary>
    /// KEYS: epoch, rebuild, then accounts. ARGV: the old epoch, node, lease ms, then per account: the node's cumulative
    /// usage, quota (-1: keep), pauses, expire-at ms, what its open reservations hold. The node's usage counted as a report
    /// counts it (the largest total a node reports wins, nothing twice), and a lease of exactly what its open reservations
    /// hold, so that no grant hands out what they may still charge.
    /// </summary>
    public const string Contribute = RebuildGuard + """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """ + "\n" + AddUsage + """
        local node, lease = ARGV[2], tonumber(ARGV[3])
        for i = 3, #KEYS do
          local key = KEYS[i]
          local b = 3 + (i - 3) * 5
          add_usage(key, node, tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), ARGV[b + 3] == '1', tonumber(ARGV[b + 4]))
          local held = tonumber(ARGV[b + 5])
          if held > 0 then redis.call('HSET', key, 'h:' .. node, held, 'e:' .. node, now + lease) end
        end
        return 0
        """;

    /// <summary>
    /// KEYS: epoch, rebuild. ARGV: the old epoch, node. The node has contributed all it has; once every node the rebuild
    /// waits for has, the rebuild ends and the nodes admit again. Returns how many nodes it still waits for.
    /// </summary>
    public const string Contributed = RebuildGuard + """
        redis.call('HDEL', KEYS[2], 'n:' .. ARGV[2])
        redis.call('HSET', KEYS[2], 'c:' .. ARGV[2], 1)
        local waiting = 0
        for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do if string.sub(f, 1, 2) == 'n:' then waiting = waiting + 1 end end
        if waiting == 0 then redis.call('DEL', KEYS[2]) end
        return waiting
        """;
}
