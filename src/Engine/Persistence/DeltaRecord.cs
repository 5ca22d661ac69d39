namespace Quota.Engine.Persistence;

/// <summary>Kinds of state change streamed to the delta log. Persisted: never renumber, only append.</summary>
public enum DeltaKind : byte
{
    Reserve = 1,
    Settle = 2,
    Refund = 3,
    Expire = 4,
    WindowReset = 5,
    ExhaustedAt = 6,
    Pause = 7,
    Restore = 8,
    ManualReset = 9,
    PolicyMove = 10,
    UserCredit = 11,
    TokenConfig = 12,
    TokenDelete = 13,
    BudgetCredit = 14,
    QuotaAdjust = 15,
}

/// <summary>
/// One fixed-size state change (DESIGN.md §6): a plain value, producing one never allocates.
/// <para>Records describe <b>effects</b>, not requests, so that replaying them in log order rebuilds exactly the
/// state the live engine reached, although concurrent requests reach the log in a different order than they
/// changed the counters: counter effects are additions (they commute), and effects on a policy window are tagged
/// with the window's generation, which only a WindowReset record (appended before the new window is published)
/// changes.</para>
/// Field meaning by kind:
/// <list type="bullet">
/// <item>Reserve: ReservationId, TokenId, UserId, PolicyIndex = policy mask, Amount = estimate, At = expiry, Aux = generations (16 bits per policy).</item>
/// <item>Settle / Expire: ReservationId, Amount = estimate, Charged = actual, Aux = 1 if the reply said "exhausted". Refund: ReservationId, Amount.</item>
/// <item>WindowReset: TokenId, PolicyIndex, Amount = window start, Charged = window end, Aux = quota &lt;&lt; 16 | generation.</item>
/// <item>ExhaustedAt: TokenId, PolicyIndex, At = the new exhausted_at (0 clears it). Pause: Aux = the recorded status. Restore.</item>
/// <item>ManualReset: TokenId, PolicyIndex, Amount = usage cleared. PolicyMove: Amount = start, Charged = end. QuotaAdjust: Amount = delta.</item>
/// <item>UserCredit: UserId, Amount = delta (creates the user on first sight). BudgetCredit: TokenId, UserId, Amount = delta.</item>
/// <item>TokenConfig: TokenId, UserId, and a payload (the key's whole configuration). TokenDelete: TokenId.</item>
/// </list>
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
/// non-blocking and allocation-free for <see cref="Append"/> (a bounded ring drained by a background pump).
/// </summary>
public interface IDeltaSink
{
    /// <summary>False when the log cannot promise room for a new reservation and everything it may still append.</summary>
    bool HasCapacity { get; }

    /// <summary>Appends one record; never fails for a reservation admitted while <see cref="HasCapacity"/> was true.</summary>
    void Append(in DeltaRecord record);

    /// <summary>Appends a record with a variable-size payload (configuration changes; cold path).</summary>
    void Append(in DeltaRecord record, byte[] payload);
}

/// <summary>The sink of a purely in-memory engine.</summary>
public sealed class NullDeltaSink : IDeltaSink
{
    public static readonly NullDeltaSink Instance = new();

    public bool HasCapacity => true;

    public void Append(in DeltaRecord record)
    {
    }

    public void Append(in DeltaRecord record, byte[] payload)
    {
    }
}
