using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// Sessions held in this process's memory, each under a random id that is all the browser's cookie carries: ending a
/// session here ends it for whoever holds the cookie (sign-out, "sign out everywhere", a lookup that starts afresh), and
/// nothing survives a restart (docs/operations.md "Console sessions"). A session ends after <see cref="Idle"/> without
/// use and, however busy, <see cref="Lifetime"/> after it started. At most <see cref="SessionsMax"/> are kept; the
/// oldest goes first when a new one would exceed it.
/// </summary>
public sealed class ServerSessions<T>(TimeProvider time, TimeSpan idle, TimeSpan lifetime) where T : class
{
    public const int SessionsMax = 10_000;
    private const int IdBytes = 32;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private long lastSweepMs;

    public TimeSpan Idle => idle;
    public TimeSpan Lifetime => lifetime;
    public int Count => entries.Count;

    /// <summary>Starts a session holding <paramref name="value"/>; returns its id (43 URL-safe characters, 256 random bits).</summary>
    public string Start(T value)
    {
        long now = NowMs;
        SweepIfDue(now);
        if (entries.Count >= SessionsMax)
        {
            EndOldest();
        }

        string id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(IdBytes));
        entries[id] = new Entry(value, now);
        return id;
    }

    /// <summary>The session's value, when <paramref name="id"/> names one that has not ended (it counts as a use); otherwise null.</summary>
    public T? Find(string? id)
    {
        if (id is null || !entries.TryGetValue(id, out Entry? entry))
        {
            return null;
        }

        long now = NowMs;
        if (IsOver(entry, now))
        {
            entries.TryRemove(id, out _);
            return null;
        }

        Volatile.Write(ref entry.LastUsedMs, now);
        return entry.Value;
    }

    /// <summary>Replaces what a live session holds (its start time, hence its end, stays).</summary>
    public void Replace(string id, T value)
    {
        if (entries.TryGetValue(id, out Entry? entry))
        {
            entry.Value = value;
        }
    }

    public void End(string? id)
    {
        if (id is not null)
        {
            entries.TryRemove(id, out _);
        }
    }

    /// <summary>Ends every session; returns how many there were.</summary>
    public int EndAll()
    {
        int ended = 0;
        foreach (string id in entries.Keys)
        {
            if (entries.TryRemove(id, out _))
            {
                ended++;
            }
        }

        return ended;
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private bool IsOver(Entry entry, long now) =>
        now - entry.StartedMs >= (long)lifetime.TotalMilliseconds || now - Volatile.Read(ref entry.LastUsedMs) >= (long)idle.TotalMilliseconds;

    private void SweepIfDue(long now)
    {
        long last = Volatile.Read(ref lastSweepMs);
        if (now - last < (long)SweepInterval.TotalMilliseconds || Interlocked.CompareExchange(ref lastSweepMs, now, last) != last)
        {
            return;
        }

        foreach (KeyValuePair<string, Entry> pair in entries)
        {
            if (IsOver(pair.Value, now))
            {
                entries.TryRemove(pair.Key, out _);
            }
        }
    }

    private void EndOldest()
    {
        KeyValuePair<string, Entry>? oldest = null;
        foreach (KeyValuePair<string, Entry> pair in entries)
        {
            if (oldest is null || pair.Value.StartedMs < oldest.Value.Value.StartedMs)
            {
                oldest = pair;
            }
        }

        if (oldest is { } end)
        {
            entries.TryRemove(end.Key, out _);
        }
    }

    private sealed class Entry(T value, long startedMs)
    {
        public T Value = value;
        public readonly long StartedMs = startedMs;
        public long LastUsedMs = startedMs;
    }
}
