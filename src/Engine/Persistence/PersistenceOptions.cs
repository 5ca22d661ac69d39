namespace Quota.Engine.Persistence;

/// <summary>Settings of the persistent engine: where data lives, how durable an acknowledgement is, how often to commit and checkpoint.</summary>
public sealed record PersistenceOptions
{
    /// <summary>
    /// The data directory, created if missing: <c>log/</c> (the delta log) and <c>quota.db</c> (snapshots and labels).
    /// One process at a time may open it.
    /// </summary>
    public string DataDir { get; init; } = "./data";
    /// <summary>When a change counts as acknowledged: at once (write-behind) or after its group commit.</summary>
    public Durability Durability { get; init; } = Durability.WriteBehind;
    /// <summary>
    /// How often the delta log is group-committed (fsync), 1 ms … 10 s: the most a crash can lose with
    /// <see cref="Durability.WriteBehind"/>, and about the wait of <see cref="PersistentEngine.AcknowledgeAsync"/>.
    /// </summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>How often the log is compacted into a snapshot (and truncated), at least 100 ms: bounds recovery time and log size.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>How often reservations are expired and due windows rolled, 10 ms … 1 min.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>The engine's own settings (table sizes, reservation TTL).</summary>
    public EngineOptions Engine { get; init; } = new();

    /// <summary>A copy with the engine options validated too; throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public PersistenceOptions Validated()
    {
        if (string.IsNullOrWhiteSpace(DataDir))
        {
            throw new ArgumentException("must name a directory", nameof(DataDir));
        }

        if (CommitInterval < TimeSpan.FromMilliseconds(1) || CommitInterval > TimeSpan.FromSeconds(10))
        {
            throw new ArgumentOutOfRangeException(nameof(CommitInterval), CommitInterval, "must be 1 ms … 10 s");
        }

        if (CheckpointInterval < TimeSpan.FromMilliseconds(100))
        {
            throw new ArgumentOutOfRangeException(nameof(CheckpointInterval), CheckpointInterval, "must be at least 100 ms");
        }

        if (TickInterval < TimeSpan.FromMilliseconds(10) || TickInterval > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentOutOfRangeException(nameof(TickInterval), TickInterval, "must be 10 ms … 1 min");
        }

        if (!Enum.IsDefined(Durability))
        {
            throw new ArgumentOutOfRangeException(nameof(Durability), Durability, "WriteBehind or Durable");
        }

        return this with { Engine = Engine.Validated() };
    }
}
