using Quota.Engine.Persistence;

namespace Quota.Engine.Tests.Support;

/// <summary>An in-memory delta log: keeps every record in append order (tests only).</summary>
internal sealed class RecordingSink : IDeltaSink
{
    private readonly List<(DeltaRecord Record, byte[]? Payload)> records = [];

    /// <summary>Runs after each append, on the appending thread: a test's way into the middle of an operation.</summary>
    public Action<DeltaRecord>? AfterAppend { get; set; }

    public bool HasCapacity => true;

    public bool TryPromise(int records) => true;

    public void EndPromise(int records)
    {
    }

    public IReadOnlyList<(DeltaRecord Record, byte[]? Payload)> Records
    {
        get
        {
            lock (records)
            {
                return records.ToArray();
            }
        }
    }

    public void Append(in DeltaRecord record)
    {
        lock (records)
        {
            records.Add((record, null));
        }

        AfterAppend?.Invoke(record);
    }

    public void Append(in DeltaRecord record, byte[] payload)
    {
        lock (records)
        {
            records.Add((record, payload));
        }

        AfterAppend?.Invoke(record);
    }

    /// <summary>Replays every record into a fresh engine with the same options.</summary>
    public QuotaEngine Replay(EngineOptions options)
    {
        var engine = new QuotaEngine(options);
        foreach ((DeltaRecord record, byte[]? payload) in Records)
        {
            engine.Apply(record, payload);
        }

        return engine;
    }
}
