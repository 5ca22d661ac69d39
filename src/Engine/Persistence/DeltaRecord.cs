using Quota.Engine.Model;

namespace Quota.Engine.Persistence;

/// <summary>Kinds of state change streamed to the delta log. Persisted: never renumber, only append.</summary>
public enum DeltaKind : byte
{
    /// <summary>A reservation was made and holds its estimate.</summary>
    Reserve = 1,
    /// <summary>A reservation was settled at its actual.</summary>
    Settle = 2,
    /// <summary>A reservation was released without a charge.</summary>
    Refund = 3,
    /// <summary>A reservation passed its TTL and was settled at its estimate.</summary>
    Expire = 4,
    /// <summary>A policy window rolled over (or was restarted) and starts empty.</summary>
    WindowReset = 5,
    /// <summary>An operator cleared a window's usage.</summary>
    ManualReset = 9,
    /// <summary>A wallet was created, topped up or debited.</summary>
    UserCredit = 11,
    /// <summary>A key was deleted.</summary>
    TokenDelete = 13,
    /// <summary>A create or update of a key: its whole configuration and every effect of the save, in one record.</summary>
    TokenSave = 16,
    /// <summary>An open reservation's expiry moved later (a long request keeps it alive).</summary>
    KeepAlive = 17,
    /// <summary>A process started serving: the reservation ids it issues carry this epoch.</summary>
    RunStarted = 18,
    /// <summary>Leased windows: the lease authority granted this node more of a window's headroom.</summary>
    LeaseGrant = 19,
    /// <summary>Leased windows: this node reported a window's charges to the authority and gave part of its lease back.</summary>
    LeaseReport = 20,
}

/// <summary>
/// One state change (docs/design.md "The delta log"): a plain 64-byte value, producing one never allocates.
/// <para>Records describe <b>effects</b>, not requests, so that replaying them in log order rebuilds exactly the
/// state the live engine reached although concurrent requests reach the log in a different order than they changed
/// the counters: counter effects are additions (they commute), and effects on a policy window are tagged with the
/// window's generation, which only a WindowReset or a TokenSave (appended before the new window is published) moves.</para>
/// <para><b>One operation, one record.</b> A settle that exhausts windows and pauses the key, a window rollover that
/// restores the key, a manual reset, a whole save: each is one record, so every prefix of the log is a state some
/// serial history produced, and a settle or refund appends exactly one record (the ring keeps room for it).</para>
/// The fields mean different things for different kinds, so they are private: the engine builds a record with the
/// factory of its kind (internal: only the engine makes records), and a reader uses the accessors named after what they
/// hold, which say for which kinds they mean something. The byte layout is the engine's own (Persistence/DeltaRecordCodec.cs).
/// </summary>
public readonly record struct DeltaRecord
{
    private DeltaRecord(DeltaKind kind, int tokenId, int userId, int policy, long reservationId, long a, long b, long at, long aux)
    {
        Kind = kind;
        TokenId = tokenId;
        UserId = userId;
        Policy = policy;
        RawReservationId = reservationId;
        A = a;
        B = b;
        At = at;
        Aux = aux;
    }

    // A Reserve record packs its 32-bit token estimate into the top 16 bits of A (amount < 2^41) and of At (expiry < 2^48).
    private const int LowBits = 48;
    private const long LowMask = (1L << LowBits) - 1;

    /// <summary>What changed; it says which accessors below mean something.</summary>
    public DeltaKind Kind { get; }
    /// <summary>The key changed (0 for UserCredit and RunStarted).</summary>
    public int TokenId { get; }
    /// <summary>The user (wallet) changed or the key's user (0 for RunStarted).</summary>
    public int UserId { get; }
    /// <summary>When the change happened (UTC Unix ms); for Reserve and KeepAlive, the reservation's expiry.</summary>
    public long AtMs => Kind == DeltaKind.Reserve ? At & LowMask : At;

    // The positional fields, for the codec only.
    internal int Policy { get; }
    internal long RawReservationId { get; }
    internal long A { get; }
    internal long B { get; }
    internal long At { get; }
    internal long Aux { get; }

    internal static DeltaRecord FromFields(DeltaKind kind, int tokenId, int userId, int policy, long reservationId, long a, long b, long at, long aux) =>
        new(kind, tokenId, userId, policy, reservationId, a, b, at, aux);

    // ---- factories, one per kind ----

    /// <summary>
    /// A reservation held <paramref name="amountUnits"/> (and <paramref name="tokens"/> on tokens policies) on the key's
    /// accounts and the policies in <paramref name="policyMask"/>; the shadow policies in <paramref name="shadowRefusedMask"/>
    /// would have refused it (their windows count it, hold nothing). Both masks share the policy byte: held in the low
    /// four bits, shadow-refused in the high four (always 0 in logs written before shadow policies).
    /// </summary>
    internal static DeltaRecord Reserve(ReservationId id, int tokenId, int userId, int policyMask, int shadowRefusedMask, long amountUnits, long tokens, long expiresAtMs, long generations, long requestKey) =>
        new(DeltaKind.Reserve, tokenId, userId, policyMask | (shadowRefusedMask << 4), id.Value,
            amountUnits | ((tokens & 0xFFFF) << LowBits), requestKey, expiresAtMs | ((tokens >> 16) << LowBits), generations);

    /// <summary>A settle (or, with <paramref name="expired"/>, an expiry) with the windows it marked exhausted and the pauses it caused.</summary>
    internal static DeltaRecord Settle(ReservationId id, int tokenId, int userId, long chargedUnits, long chargedTokens, long atMs, bool exhaustedReply, in SettleMarks marks, bool expired = false) =>
        new(expired ? DeltaKind.Expire : DeltaKind.Settle, tokenId, userId, -1, id.Value, chargedTokens, chargedUnits, atMs,
            (exhaustedReply ? 1L : 0) | ((long)marks.ExhaustedMask << 1) | ((long)marks.PausedMask << 5) | ((long)marks.PausedFromStatus << 9));

    internal static DeltaRecord Refund(ReservationId id, int tokenId, int userId, long estimateUnits, long atMs) =>
        new(DeltaKind.Refund, tokenId, userId, -1, id.Value, estimateUnits, 0, atMs, 0);

    /// <summary>An open reservation's expiry moved to <paramref name="expiresAtMs"/> (a running stream keeps it alive).</summary>
    internal static DeltaRecord KeepAlive(ReservationId id, int tokenId, int userId, long expiresAtMs) =>
        new(DeltaKind.KeepAlive, tokenId, userId, -1, id.Value, 0, 0, expiresAtMs, 0);

    /// <summary>
    /// A window rolled over: generation <paramref name="generation"/> starts empty, <paramref name="leased"/> or not (the
    /// mode is the log's, never the options' at replay; older records, never leased, carry 0); <paramref name="restores"/>
    /// lifts this policy's pause.
    /// </summary>
    internal static DeltaRecord WindowReset(int tokenId, int userId, int policyIndex, ushort generation, long quotaUnits, long startMs, long endMs, bool leased, bool restores, long atMs) =>
        new(DeltaKind.WindowReset, tokenId, userId, policyIndex, leased ? 1 : 0, startMs, endMs, atMs, (quotaUnits << 17) | (restores ? 1L << 16 : 0) | generation);

    /// <summary>An operator cleared <paramref name="clearedUnits"/> of the current window's usage; <paramref name="restores"/> lifts the pause.</summary>
    internal static DeltaRecord ManualReset(int tokenId, int userId, int policyIndex, long clearedUnits, bool restores, long atMs) =>
        new(DeltaKind.ManualReset, tokenId, userId, policyIndex, 0, clearedUnits, 0, atMs, restores ? 1 : 0);

    /// <summary>A wallet changed by <paramref name="deltaUnits"/> (creates the user on first sight).</summary>
    internal static DeltaRecord UserCredit(int userId, long deltaUnits, long atMs) =>
        new(DeltaKind.UserCredit, 0, userId, -1, 0, deltaUnits, 0, atMs, 0);

    /// <summary>A create or update; the payload (<see cref="TokenSave"/>) carries the configuration and every effect.</summary>
    internal static DeltaRecord TokenSave(int tokenId, int userId, long atMs) =>
        new(DeltaKind.TokenSave, tokenId, userId, -1, 0, 0, 0, atMs, 0);

    internal static DeltaRecord TokenDelete(int tokenId, int userId, long atMs) =>
        new(DeltaKind.TokenDelete, tokenId, userId, -1, 0, 0, 0, atMs, 0);

    internal static DeltaRecord RunStarted(int epoch, long atMs) =>
        new(DeltaKind.RunStarted, 0, 0, -1, 0, epoch, 0, atMs, 0);

    /// <summary>The authority granted <paramref name="units"/> of window <paramref name="generation"/> of a policy to this node's lease.</summary>
    internal static DeltaRecord LeaseGrant(int tokenId, int userId, int policyIndex, ushort generation, long units, long atMs) =>
        new(DeltaKind.LeaseGrant, tokenId, userId, policyIndex, 0, units, 0, atMs, generation);

    /// <summary>
    /// This node reported <paramref name="chargedUnits"/> of window <paramref name="generation"/>'s charges and gave back
    /// <paramref name="givenBackUnits"/> of its lease; <paramref name="closing"/>: the last report of a window that ended.
    /// </summary>
    internal static DeltaRecord LeaseReport(int tokenId, int userId, int policyIndex, ushort generation, long chargedUnits, long givenBackUnits, bool closing, long atMs) =>
        new(DeltaKind.LeaseReport, tokenId, userId, policyIndex, 0, chargedUnits, givenBackUnits, atMs, generation | (closing ? 1L << 16 : 0));

    // ---- accessors, named by meaning ----

    /// <summary>Reserve, Settle, Expire, Refund, KeepAlive: the reservation the record is about.</summary>
    public ReservationId ReservationId => new(RawReservationId);
    /// <summary>Reserve: the policies held.</summary>
    public int PolicyMask => Policy & 0xF;
    /// <summary>Reserve: the shadow policies that would have refused it (counted in their windows, nothing held).</summary>
    public int ShadowRefusedMask => (Policy >> 4) & 0xF;
    /// <summary>WindowReset, ManualReset, LeaseGrant, LeaseReport: the policy's position (0 … 3).</summary>
    public int PolicyIndex => Policy;
    /// <summary>Reserve: the amount held. Refund: the estimate released.</summary>
    public long EstimateUnits => Kind == DeltaKind.Reserve ? A & LowMask : A;
    /// <summary>Reserve: the token estimate held on tokens policies.</summary>
    public long TokenEstimate => (long)((ulong)A >> LowBits) | (long)(((ulong)At >> LowBits) << 16);
    /// <summary>Settle, Expire: the actual charged.</summary>
    public long ChargedUnits => B;
    /// <summary>Settle, Expire: the actual tokens charged on tokens policies.</summary>
    public long ChargedTokens => A;
    /// <summary>Reserve: the caller's request key (0 = none).</summary>
    public long RequestKey => B;
    /// <summary>Reserve, KeepAlive: when the reservation expires.</summary>
    public long ExpiresAtMs => AtMs;
    /// <summary>Reserve: the window generation of each held or shadow-refusing policy, 16 bits per index.</summary>
    public long Generations => Aux;
    /// <summary>Settle, Expire: the reply said "exhausted".</summary>
    public bool ExhaustedReply => (Aux & 1) != 0;
    /// <summary>Settle, Expire: exhaustion marks and pauses this finish made.</summary>
    public SettleMarks Marks => new((int)(Aux >> 1) & 0xF, (int)(Aux >> 5) & 0xF, (TokenStatus)(byte)(Aux >> 9));
    /// <summary>
    /// WindowReset: the new window's generation, the tag a reservation's holds carry (it wraps at 65,536). LeaseGrant,
    /// LeaseReport: the window's generation.
    /// </summary>
    public ushort Generation => (ushort)Aux;
    /// <summary>LeaseGrant: the units granted.</summary>
    public long GrantedUnits => A;
    /// <summary>LeaseReport: the charges reported.</summary>
    public long ReportedChargedUnits => A;
    /// <summary>LeaseReport: the lease given back.</summary>
    public long GivenBackUnits => B;
    /// <summary>LeaseReport: the last report of a window that ended (a rollover, or a restart by a save).</summary>
    public bool Closing => (Aux & (1L << 16)) != 0;
    /// <summary>WindowReset: the new window's quota, in the policy's metric.</summary>
    public long QuotaUnits => (long)((ulong)Aux >> 17);
    /// <summary>WindowReset: the new window admits against a lease (docs/design.md "Leases").</summary>
    public bool StartsLeased => Kind == DeltaKind.WindowReset && RawReservationId != 0;
    /// <summary>WindowReset: the new window's start, UTC Unix ms.</summary>
    public long WindowStartMs => A;
    /// <summary>WindowReset: the new window's end (exclusive), UTC Unix ms.</summary>
    public long WindowEndMs => B;
    /// <summary>WindowReset, ManualReset: the policy's pause is lifted.</summary>
    public bool Restores => Kind == DeltaKind.WindowReset ? (Aux & (1L << 16)) != 0 : Aux != 0;
    /// <summary>ManualReset: usage cleared.</summary>
    public long ClearedUnits => A;
    /// <summary>UserCredit: the wallet change.</summary>
    public long DeltaUnits => A;
    /// <summary>RunStarted: the run's epoch, the high bits of every reservation id it issues.</summary>
    public int Epoch => (int)A;
}

/// <summary>
/// What a settle or expiry decided under the key's lock: the policies whose window it marked exhausted (first time in
/// the window) and those of them that paused the key, with the operator status the pause recorded.
/// </summary>
/// <param name="ExhaustedMask">Bit i: policy i's window was marked exhausted by this finish.</param>
/// <param name="PausedMask">Bit i: policy i paused the key (a subset of <paramref name="ExhaustedMask"/>).</param>
/// <param name="PausedFromStatus">The operator status the key had, restored when the pause is lifted.</param>
public readonly record struct SettleMarks(int ExhaustedMask, int PausedMask, TokenStatus PausedFromStatus)
{
    /// <summary>The finish marked at least one window.</summary>
    public bool Any => ExhaustedMask != 0;
}

/// <summary>
/// The engine's seam to the delta log: called on the request path, so an implementation must be
/// non-blocking and allocation-free for <see cref="Append(in DeltaRecord)"/> (a bounded ring drained by a background pump).
/// <para>Room: a reserve is admitted only while <see cref="HasCapacity"/>, which keeps room for one finishing record
/// of every reservation that may be open, so settles, refunds and expiries append without asking. Every other
/// operation first promises the records it may append (<see cref="TryPromise"/>) and is refused when there is no room.</para>
/// <para>Thread-safety: every member is called concurrently from any number of threads. Some appends happen under a
/// key's lock, so an implementation must never call back into the engine. <see cref="PersistentEngine"/> brings its own
/// sink (the FASTER delta log) and recovers from it; a sink passed to <see cref="QuotaEngine"/>'s constructor sees
/// every change of an in-memory engine (to stream or mirror it), but the engine has no public replay of such a log.</para>
/// </summary>
public interface IDeltaSink
{
    /// <summary>False when the log cannot promise room for a new reservation and everything it may still append.</summary>
    bool HasCapacity { get; }

    /// <summary>Sets aside room for <paramref name="records"/> cold records; false (nothing set aside) when there is none.</summary>
    bool TryPromise(int records);

    /// <summary>Gives back a promise once its records are appended (or were not needed).</summary>
    void EndPromise(int records);

    /// <summary>Appends one record; never fails for a finish or for records promised.</summary>
    void Append(in DeltaRecord record);

    /// <summary>Appends a record with a variable-size payload (configuration changes; cold path).</summary>
    void Append(in DeltaRecord record, byte[] payload);

    /// <summary>
    /// Completes once every record appended so far is durable (cold path: a lease report waits for its record before the
    /// lease authority hears of it, docs/design.md "Leases"). A sink that keeps nothing, or keeps it synchronously,
    /// completes at once (the default).
    /// </summary>
    ValueTask WhenDurableAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>The sink of a purely in-memory engine.</summary>
internal sealed class NullDeltaSink : IDeltaSink
{
    public static readonly NullDeltaSink Instance = new();

    public bool HasCapacity => true;

    public bool TryPromise(int records) => true;

    public void EndPromise(int records)
    {
    }

    public void Append(in DeltaRecord record)
    {
    }

    public void Append(in DeltaRecord record, byte[] payload)
    {
    }
}
