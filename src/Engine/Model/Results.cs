using Quota.Engine.Accounts;

namespace Quota.Engine.Model;

// Expected outcomes on the hot path. Values are in validation order and never renumbered;
// the host maps them to HTTP in exactly one table.

/// <summary>The outcome of a reserve, in the order the checks run (docs/design.md "Admission").</summary>
public enum ReserveResult : byte
{
    /// <summary>Held on every account; finish it with Settle or Refund (or it expires after the TTL).</summary>
    Ok = 0,
    /// <summary>The amount is not 1 … <see cref="EngineLimits.AmountMaxUnits"/>, or the tokens not 0 … <see cref="EngineLimits.TokensMax"/>.</summary>
    InvalidAmount = 1,
    /// <summary>No such key, or it was deleted.</summary>
    KeyNotFound = 2,
    /// <summary>The operator disabled the key.</summary>
    KeyDisabled = 3,
    /// <summary>The key's expiry instant has passed.</summary>
    KeyExpired = 4,
    /// <summary>A disable_token policy paused the key; <see cref="ReserveOutcome.PolicyIndex"/> names it.</summary>
    KeyPaused = 5,
    /// <summary>The user's wallet: balance − reserved is less than the amount.</summary>
    InsufficientUserQuota = 6,
    /// <summary>The key's lifetime budget: remaining − reserved is less than the amount (never for an unlimited key).</summary>
    InsufficientKeyQuota = 7,
    /// <summary>The window's used + reserved already reached the quota.</summary>
    PolicyExhausted = 8,
    /// <summary>Strict policy: budget is left in the window, but not enough for this estimate.</summary>
    PolicyEstimateTooLarge = 9,
    /// <summary>The reservation table is full (EngineOptions.ReservationsMax open reservations).</summary>
    TooManyOpenReservations = 10,
    /// <summary>The delta log cannot take another record right now; nothing was changed.</summary>
    LogFull = 11,
    /// <summary>
    /// Leased windows only (<see cref="EngineOptions.LeasedWindows"/>): this node's lease of the window named by
    /// <see cref="ReserveOutcome.Account"/> is too small; nothing was changed. The synchronous reserve never waits:
    /// <see cref="QuotaEngine.ReserveAsync"/> asks the lease authority for more and decides again.
    /// </summary>
    LeaseShort = 12,
}

/// <summary>The outcome of a settle or refund.</summary>
public enum FinishResult : byte
{
    /// <summary>Applied now, or a repeat of the same kind of call (see <see cref="FinishOutcome.Replayed"/>).</summary>
    Ok = 0,
    /// <summary>The actual is not 0 … <see cref="EngineLimits.AmountMaxUnits"/> (tokens: -1 … <see cref="EngineLimits.TokensMax"/>); nothing changed.</summary>
    InvalidAmount = 1,
    /// <summary>Unknown id, or its record was recycled long after it finished.</summary>
    NotFound = 2,
    /// <summary>A refund of a settled reservation; <see cref="FinishOutcome.ChargedUnits"/> is what the settle charged.</summary>
    AlreadySettled = 3,
    /// <summary>A settle of a refunded reservation: nothing was charged.</summary>
    AlreadyRefunded = 4,
    /// <summary>The TTL passed first and the reservation was settled at its estimate (<see cref="FinishOutcome.ChargedUnits"/>).</summary>
    AlreadyExpired = 5,
}

/// <summary>Why a token or policy spec was refused; nothing was changed.</summary>
public enum SpecError : byte
{
    /// <summary>Applied.</summary>
    None = 0,
    /// <summary>No user with that id.</summary>
    UserNotFound = 1,
    /// <summary>No key with that id, or it was deleted.</summary>
    TokenNotFound = 2,
    /// <summary>A key's status may only be set to Enabled or Disabled.</summary>
    StatusInvalid = 3,
    /// <summary>The lifetime budget is not 0 … <see cref="EngineLimits.BalanceMaxUnits"/>.</summary>
    RemainQuotaInvalid = 4,
    /// <summary>The expiry is neither -1 (never) nor 1 … <see cref="EngineLimits.TimeMaxMs"/>.</summary>
    ExpiresAtInvalid = 5,
    /// <summary>More than <see cref="EngineLimits.PoliciesPerKeyMax"/> policies.</summary>
    TooManyPolicies = 6,
    /// <summary>The policy quota is not 1 … <see cref="EngineLimits.PolicyQuotaMaxUnits"/> (0 allowed while disabled).</summary>
    PolicyQuotaInvalid = 7,
    /// <summary>The anchor is not <see cref="EngineLimits.PolicyAnchorMinMs"/> … <see cref="EngineLimits.PolicyAnchorMaxMs"/>.</summary>
    PolicyAnchorInvalid = 8,
    /// <summary>Not a defined <see cref="PeriodMode"/>.</summary>
    PolicyPeriodModeInvalid = 9,
    /// <summary>A custom period's minutes are out of range for its metric (see <see cref="QuotaPolicySpec.CustomMinutes"/>).</summary>
    PolicyCustomMinutesInvalid = 10,
    /// <summary>Not a defined <see cref="ExhaustedAction"/>.</summary>
    PolicyExhaustedActionInvalid = 11,
    /// <summary>Not a defined <see cref="BoundaryMode"/>.</summary>
    PolicyBoundaryModeInvalid = 12,
    /// <summary>Not an IANA time zone id known to the engine's tz database.</summary>
    PolicyTimeZoneInvalid = 13,
    /// <summary>The key table is full (<see cref="EngineOptions.KeysMax"/>).</summary>
    TooManyKeys = 14,
    /// <summary>The user table is full (<see cref="EngineOptions.UsersMax"/>).</summary>
    TooManyUsers = 15,
    /// <summary>A wallet amount out of range, or a debit that would take the balance below what is reserved.</summary>
    UserQuotaInvalid = 16,
    /// <summary>A reset named a policy position that is empty or disabled (or the key has no enabled policy).</summary>
    PolicyNotFound = 17,
    /// <summary>The delta log has no room for the change right now; nothing was changed (retry later).</summary>
    LogFull = 18,
    /// <summary>
    /// A policy's window was restarted (disabled, re-enabled, re-anchored) so often that a window still held by open
    /// reservations would come round again; nothing was changed (retry once they finish).
    /// </summary>
    PolicyRestartedTooOften = 19,
    /// <summary>Not a defined <see cref="PolicyMetric"/>.</summary>
    PolicyMetricInvalid = 20,
    /// <summary>A model pattern is empty, too long, has a '*' other than at its end, or there are too many.</summary>
    PolicyModelsInvalid = 21,
    /// <summary>An explicit id is out of the table's range or already names a user or key.</summary>
    IdTaken = 22,
    /// <summary>Not a defined <see cref="PolicyEnforcement"/>.</summary>
    PolicyEnforcementInvalid = 23,
}

/// <summary>The outcome of a keep-alive of a reservation.</summary>
public enum KeepAliveResult : byte
{
    /// <summary>The expiry moved.</summary>
    Ok = 0,
    /// <summary>Unknown id, or its record was recycled.</summary>
    NotFound = 1,
    /// <summary>Settled, refunded or expired already: there is nothing to keep alive.</summary>
    AlreadyFinished = 2,
    /// <summary>The delta log has no room right now; nothing was changed (retry).</summary>
    LogFull = 3,
}

/// <summary>Where a reservation is in its life.</summary>
public enum ReservationStatus : byte
{
    /// <summary>Holding its amount on its accounts.</summary>
    Open = 0,
    /// <summary>Finished by Settle.</summary>
    Settled = 1,
    /// <summary>Finished by Refund.</summary>
    Refunded = 2,
    /// <summary>Settled at its estimate by the expiry sweep.</summary>
    Expired = 3,
}

/// <summary>A point-in-time copy of one reservation record.</summary>
/// <param name="Id">The reservation.</param>
/// <param name="TokenId">The key it was made for.</param>
/// <param name="AmountUnits">The estimate held, in quota units.</param>
/// <param name="RequestKey">The caller's request key (<see cref="ReserveRequest.RequestKey"/>; 0 = none).</param>
/// <param name="Status">Open, or how it finished.</param>
/// <param name="ChargedUnits">What it charged once finished, in quota units (0 while open or refunded).</param>
/// <param name="ExpiresAtMs">When an open reservation expires, UTC Unix ms.</param>
public readonly record struct ReservationView(
    ReservationId Id, int TokenId, long AmountUnits, long RequestKey, ReservationStatus Status, long ChargedUnits, long ExpiresAtMs);

/// <summary>
/// What a request asks to reserve: its estimated cost, its estimated tokens (prompt + completion cap; for tokens
/// policies), its model (for scoped policies; null = a request no scoped policy applies to) and the caller's request key.
/// </summary>
/// <param name="AmountUnits">Estimated cost in quota units, 1 … <see cref="EngineLimits.AmountMaxUnits"/>: held on the wallet, the key budget and spend policies.</param>
/// <param name="Tokens">Estimated tokens, 0 … <see cref="EngineLimits.TokensMax"/>: held on tokens policies.</param>
/// <param name="Model">The requested model id, matched against each policy's <see cref="QuotaPolicySpec.Models"/>.</param>
/// <param name="RequestKey">
/// An opaque number the caller derives from its own request id (0 = none), kept with the reservation and in the log so that
/// a repeated request can be found after a restart; the engine does not deduplicate by it.
/// </param>
public readonly record struct ReserveRequest(long AmountUnits, long Tokens = 0, string? Model = null, long RequestKey = 0);

/// <summary>
/// The outcome of a reserve; <see cref="Account"/> names the account that refused (and <see cref="PolicyIndex"/> its
/// policy position, or -1).
/// </summary>
/// <param name="Result">Ok, or the first check that refused.</param>
/// <param name="Id">The new reservation; <see cref="ReservationId.None"/> when refused.</param>
/// <param name="ExpiresAtMs">When the reservation expires unless settled, refunded or kept alive first, UTC Unix ms (0 when refused).</param>
/// <param name="PolicyIndex">The position (0 … 3) of the policy that refused or paused the key; -1 otherwise.</param>
public readonly record struct ReserveOutcome(ReserveResult Result, ReservationId Id, long ExpiresAtMs, int PolicyIndex)
{
    /// <summary>The reservation was made.</summary>
    public bool IsOk => Result == ReserveResult.Ok;

    /// <summary>
    /// The account that refused: the wallet, the key budget, or the policy window that refused or paused the key;
    /// <see cref="AccountId.None"/> for Ok and for refusals that are not about an account.
    /// </summary>
    public AccountId Account { get; init; }
}

/// <summary>The outcome of a settle or refund. A repeated call returns the first call's numbers with Replayed set.</summary>
/// <param name="Result">Ok, or why nothing was applied.</param>
/// <param name="ChargedUnits">What the reservation was charged, in quota units (0 for a refund).</param>
/// <param name="Exhausted">The charge left at least one of the key's policy windows used up.</param>
/// <param name="Replayed">This call repeated an earlier one of the same kind and changed nothing.</param>
public readonly record struct FinishOutcome(FinishResult Result, long ChargedUnits, bool Exhausted, bool Replayed);

/// <summary>The outcome of a create or update; <see cref="PolicyIndex"/> names the offending policy (or -1).</summary>
/// <param name="Error"><see cref="SpecError.None"/>, or why nothing was changed.</param>
/// <param name="Id">The user's or key's id (a new one for a create); 0 when a create was refused.</param>
/// <param name="PolicyIndex">The position of the policy whose field was refused; -1 when the error is not about a policy.</param>
public readonly record struct SaveOutcome(SpecError Error, int Id, int PolicyIndex)
{
    /// <summary>Applied (<see cref="Error"/> is <see cref="SpecError.None"/>).</summary>
    public bool IsOk => Error == SpecError.None;
}
