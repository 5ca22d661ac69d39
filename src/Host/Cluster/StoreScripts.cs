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
/// </summary>
internal static class StoreScripts
{
    // Shared by the scripts: the store's clock, and the sum of the leases that have not lapsed (a lapsed lease is dropped).
    private const string Prelude = """
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
    /// KEYS[1] the account. ARGV: node, need, want, quota (-1: keep the stored one), lease ms, expire-at ms (0: none),
    /// graceful (1/0). Grants min(headroom, max(need, min(want, headroom/4))): leases shrink as headroom shrinks, and
    /// near exhaustion a node gets just what one request needs. Strict: nothing unless the whole need fits; graceful:
    /// whatever headroom is left. Returns {granted, used, paused (1/0)}.
    /// </summary>
    public const string Grant = Prelude + """
        local key, node = KEYS[1], ARGV[1]
        local need, want, quota = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local lease, expire_at, graceful = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
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

    /// <summary>
    /// KEYS: accounts. ARGV: node, lease ms, then per account: cumulative used by this node, quota (-1: keep),
    /// pauses (1: a disable_token policy), expire-at ms (0: none). Adds what is new to <c>u</c>, takes it off the node's
    /// lease, renews the lease (unless it had lapsed: then it is gone), and pauses the account once it is used up
    /// (pauses=1). Returns per account {used, paused, the node's lease now}.
    /// </summary>
    public const string Report = Prelude + """
        local node, lease = ARGV[1], tonumber(ARGV[2])
        local out = {}
        for i, key in ipairs(KEYS) do
          local b = 2 + (i - 1) * 4
          local total, quota, pauses, expire_at = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), ARGV[b + 3] == '1', tonumber(ARGV[b + 4])
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
          local held = tonumber(redis.call('HGET', key, 'h:' .. node) or '0')
          local lapsed = held > 0 and tonumber(redis.call('HGET', key, 'e:' .. node) or '0') <= now
          if lapsed then
            redis.call('HDEL', key, 'h:' .. node, 'e:' .. node)
            held = 0
          elseif held > 0 then
            redis.call('HSET', key, 'e:' .. node, now + lease)
          end
          local used = tonumber(redis.call('HGET', key, 'u') or '0')
          local paused = redis.call('HGET', key, 'p') == '1'
          if pauses and not paused and quota > 0 and used >= quota then
            redis.call('HSET', key, 'p', 1)
            paused = true
          end
          out[i] = {used, paused and 1 or 0, held}
        end
        return out
        """;

    /// <summary>KEYS[1] the account; ARGV: node, units. Gives back part of the node's lease.</summary>
    public const string GiveBack = """
        local h = tonumber(redis.call('HGET', KEYS[1], 'h:' .. ARGV[1]) or '0')
        if h > 0 then redis.call('HSET', KEYS[1], 'h:' .. ARGV[1], math.max(0, h - tonumber(ARGV[2]))) end
        return 0
        """;

    /// <summary>
    /// KEYS[1] the account; ARGV: node, units, lease ms. Sets the node's lease to exactly <c>units</c> (0: none): at a
    /// restart, what its recovered open reservations still hold; whatever else its last run had leased is gone with it.
    /// </summary>
    public const string SetLease = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if tonumber(ARGV[2]) > 0 then
          redis.call('HSET', KEYS[1], 'h:' .. ARGV[1], ARGV[2], 'e:' .. ARGV[1], now + tonumber(ARGV[3]))
        else
          redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1], 'e:' .. ARGV[1])
        end
        return 0
        """;

    /// <summary>
    /// KEYS[1] the node's claim; ARGV: this process's token, ms. Takes or renews the claim on a NodeId: 0, or while
    /// another process holds it, the ms its claim has left (a live holder renews it, so that number goes up).
    /// </summary>
    public const string ClaimNode = """
        local holder = redis.call('GET', KEYS[1])
        if holder and holder ~= ARGV[1] then return math.max(1, redis.call('PTTL', KEYS[1])) end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
        return 0
        """;

    /// <summary>KEYS[1] the node's claim; ARGV: this process's token. Lets the claim go (a clean stop).</summary>
    public const string ReleaseNode = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>KEYS[1] the account. Returns {quota, used, leased (live leases), paused}.</summary>
    public const string Read = Prelude + """
        local leased = live_leases(KEYS[1])
        return {tonumber(redis.call('HGET', KEYS[1], 'q') or '0'), tonumber(redis.call('HGET', KEYS[1], 'u') or '0'), leased,
          redis.call('HGET', KEYS[1], 'p') == '1' and 1 or 0}
        """;

    /// <summary>KEYS: accounts. <see cref="Read"/> of each, in one call: {quota, used, leased, paused} per account, flattened in KEYS' order.</summary>
    public const string ReadMany = Prelude + """
        local out = {}
        for _, key in ipairs(KEYS) do
          local leased = live_leases(key)
          out[#out + 1] = tonumber(redis.call('HGET', key, 'q') or '0')
          out[#out + 1] = tonumber(redis.call('HGET', key, 'u') or '0')
          out[#out + 1] = leased
          out[#out + 1] = redis.call('HGET', key, 'p') == '1' and 1 or 0
        end
        return out
        """;

    /// <summary>
    /// KEYS[1] a wallet. ARGV: delta. A top-up adds to the quota; a debit only if what is left covers it (the leases
    /// count as spent). Returns 1, or 0 for a refused debit.
    /// </summary>
    public const string Credit = Prelude + """
        local delta = tonumber(ARGV[1])
        if delta < 0 then
          local left = tonumber(redis.call('HGET', KEYS[1], 'q') or '0') - tonumber(redis.call('HGET', KEYS[1], 'u') or '0') - live_leases(KEYS[1])
          if left + delta < 0 then return 0 end
        end
        redis.call('HINCRBY', KEYS[1], 'q', delta)
        return 1
        """;

    /// <summary>KEYS[1] a policy window. Manual reset: usage and pause cleared; the nodes' cumulative counts stay, so later reports add only new usage.</summary>
    public const string ResetWindow = """
        redis.call('HSET', KEYS[1], 'u', 0, 'p', 0)
        return 0
        """;

    /// <summary>
    /// Saves one configuration document. KEYS: document, change set, version counter, budget account ('' : none).
    /// ARGV: member, JSON, events channel, budget (-1: unchanged; else quota := used + budget, so what is left is the budget),
    /// and the configuration version the save was checked against (-1: none; else nothing is written unless it is still the
    /// store's version: an admin save's version check, docs/api.md "Versions").
    /// Returns the new configuration version, or 0 when the checked version is no longer the store's.
    /// </summary>
    public const string SaveDocument = """
        local expected = tonumber(ARGV[5] or '-1')
        if expected >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') ~= expected then
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[2])
        local budget = tonumber(ARGV[4])
        if budget >= 0 then
          local used = tonumber(redis.call('HGET', KEYS[4], 'u') or '0')
          redis.call('HSET', KEYS[4], 'q', used + budget)
        end
        local version = redis.call('INCR', KEYS[3])
        redis.call('ZADD', KEYS[2], version, ARGV[1])
        redis.call('PUBLISH', ARGV[3], version)
        return version
        """;
}
