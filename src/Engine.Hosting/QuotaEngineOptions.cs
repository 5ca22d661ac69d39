using Quota.Engine.Persistence;

namespace Quota.Engine.Hosting;

/// <summary>
/// The configuration section <c>AddQuotaEngine</c> binds (by default the host's <c>Quota</c> section; docs/operations.md
/// "Configuration"). Validated at start by the engine's own validation: a value out of range stops the host with an
/// error that names it (<c>Quota:KeysMax …</c>).
/// </summary>
public sealed class QuotaEngineOptions
{
    /// <summary>The data directory (<c>log/</c> and <c>quota.db</c>), created if missing; one process at a time.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>When a change counts as acknowledged: at once (<see cref="Durability.WriteBehind"/>) or after its group commit.</summary>
    public Durability Durability { get; set; } = Durability.WriteBehind;

    /// <summary>Group commit interval of the delta log, 1 … 10,000 ms.</summary>
    public int CommitIntervalMs { get; set; } = 5;

    /// <summary>How long an unfinished reservation holds its estimate before it settles at it, 1 … 86,400 s.</summary>
    public int ReservationTtlSeconds { get; set; } = 600;

    /// <summary>Size of the key table, 1 … 2^28.</summary>
    public int KeysMax { get; set; } = 1 << 20;

    /// <summary>Size of the user table, 1 … 2^28.</summary>
    public int UsersMax { get; set; } = 1 << 18;

    /// <summary>Open reservations at most: a power of two, 64 … 2^26.</summary>
    public int ReservationsMax { get; set; } = 1 << 18;

    /// <summary>How often the log is compacted into a snapshot, at least 1 s.</summary>
    public int CheckpointIntervalSeconds { get; set; } = 300;

    /// <summary>The engine's persistence settings these options stand for (not validated: <c>PersistentEngine.Open</c> does that).</summary>
    public PersistenceOptions ToPersistence() => new()
    {
        DataDir = DataDir,
        Durability = Durability,
        CommitInterval = TimeSpan.FromMilliseconds(CommitIntervalMs),
        CheckpointInterval = TimeSpan.FromSeconds(CheckpointIntervalSeconds),
        Engine = new EngineOptions
        {
            KeysMax = KeysMax,
            UsersMax = UsersMax,
            ReservationsMax = ReservationsMax,
            ReservationTtl = TimeSpan.FromSeconds(ReservationTtlSeconds),
        },
    };
}
