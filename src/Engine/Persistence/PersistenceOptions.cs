namespace Quota.Engine.Persistence;

/// <summary>Settings of the persistent engine: where data lives, how durable an acknowledgement is, how often to commit and checkpoint.</summary>
public sealed record PersistenceOptions
{
    public string DataDir { get; init; } = "./data";
    public Durability Durability { get; init; } = Durability.WriteBehind;
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>How often the log is compacted into a snapshot (and truncated).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>How often reservations are expired and due windows rolled.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(1);
    public EngineOptions Engine { get; init; } = new();

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
