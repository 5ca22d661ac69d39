namespace Quota.Engine.Persistence;

/// <summary>Kinds of state change streamed to the delta log. Persisted: never renumber, only append.</summary>
public enum DeltaKind : byte
{
    Reserve = 1,
    Settle = 2,
    Refund = 3,
    Expire = 4,
    WindowReset = 5,
    Exhausted = 6,
    Pause = 7,
    Restore = 8,
    ManualReset = 9,
    PolicySave = 10,
    UserCredit = 11,
    TokenSave = 12,
    TokenDelete = 13,
}

/// <summary>
/// One fixed-size state change, produced by the engine for the delta log (DESIGN.md §6). A plain value:
/// producing one never allocates. Field meaning by kind:
/// Reserve: ReservationId, TokenId, UserId, Amount = estimate, Aux = window generations (16 bits per policy),
/// PolicyIndex = policy mask, At = expiry instant. Settle/Expire: ReservationId, Charged. Refund: ReservationId.
/// WindowReset: TokenId, PolicyIndex, Aux = new generation, Amount = window start, Charged = window end.
/// Exhausted/Pause/Restore/ManualReset: TokenId, PolicyIndex. UserCredit: UserId, Amount = delta.
/// PolicySave/TokenSave/TokenDelete: TokenId (the config store holds the new configuration).
/// </summary>
public readonly record struct DeltaRecord(
    DeltaKind Kind,
    int TokenId,
    int UserId,
    int PolicyIndex,
    long ReservationId,
    long AmountUnits,
    long ChargedUnits,
    long AtMs,
    long Aux);

/// <summary>
/// The engine's seam to the delta log: called on the request path, so an implementation must be
/// non-blocking and allocation-free (a bounded ring drained by a background pump).
/// </summary>
public interface IDeltaSink
{
    /// <summary>Reports whether a reserve may proceed: false when the log cannot take more records now.</summary>
    bool HasCapacity { get; }

    /// <summary>Appends one record. Must not fail for a reserve that found <see cref="HasCapacity"/> true.</summary>
    void Append(in DeltaRecord record);
}

/// <summary>The sink of a purely in-memory engine.</summary>
public sealed class NullDeltaSink : IDeltaSink
{
    public static readonly NullDeltaSink Instance = new();

    public bool HasCapacity => true;

    public void Append(in DeltaRecord record)
    {
    }
}
