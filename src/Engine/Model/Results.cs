namespace Quota.Engine.Model;

// Expected outcomes on the hot path. Values are in validation order and never renumbered;
// the host maps them to HTTP in exactly one table.

/// <summary>The outcome of a reserve, in the order the checks run (docs/design.md "Admission").</summary>
public enum ReserveResult : byte
{
    Ok = 0,
    InvalidAmount = 1,
    KeyNotFound = 2,
    KeyDisabled = 3,
    KeyExpired = 4,
    /// <summary>A disable_token policy paused the key.</summary>
    KeyPaused = 5,
    InsufficientUserQuota = 6,
    InsufficientKeyQuota = 7,
    /// <summary>The window's used + reserved already reached the quota.</summary>
    PolicyExhausted = 8,
    /// <summary>Strict policy: budget is left in the window, but not enough for this estimate.</summary>
    PolicyEstimateTooLarge = 9,
    /// <summary>The reservation table is full (EngineOptions.ReservationsMax open reservations).</summary>
    TooManyOpenReservations = 10,
    /// <summary>The delta log cannot take another record right now; nothing was changed.</summary>
    LogFull = 11,
}

/// <summary>The outcome of a settle or refund.</summary>
public enum FinishResult : byte
{
    /// <summary>Applied now, or a repeat of the same kind of call (see <see cref="FinishOutcome.Replayed"/>).</summary>
    Ok = 0,
    InvalidAmount = 1,
    /// <summary>Unknown id, or its record was recycled long after it finished.</summary>
    NotFound = 2,
    AlreadySettled = 3,
    AlreadyRefunded = 4,
    AlreadyExpired = 5,
}

/// <summary>Why a token or policy spec was refused; nothing was changed.</summary>
public enum SpecError : byte
{
    None = 0,
    UserNotFound = 1,
    TokenNotFound = 2,
    StatusInvalid = 3,
    RemainQuotaInvalid = 4,
    ExpiresAtInvalid = 5,
    TooManyPolicies = 6,
    PolicyQuotaInvalid = 7,
    PolicyAnchorInvalid = 8,
    PolicyPeriodModeInvalid = 9,
    PolicyCustomMinutesInvalid = 10,
    PolicyExhaustedActionInvalid = 11,
    PolicyBoundaryModeInvalid = 12,
    PolicyTimeZoneInvalid = 13,
    TooManyKeys = 14,
    TooManyUsers = 15,
    UserQuotaInvalid = 16,
    PolicyNotFound = 17,
    /// <summary>The delta log has no room for the change right now; nothing was changed (retry later).</summary>
    LogFull = 18,
    /// <summary>
    /// A policy's window was restarted (disabled, re-enabled, re-anchored) so often that a window still held by open
    /// reservations would come round again; nothing was changed (retry once they finish).
    /// </summary>
    PolicyRestartedTooOften = 19,
    PolicyMetricInvalid = 20,
    /// <summary>A model pattern is empty, too long, has a '*' other than at its end, or there are too many.</summary>
    PolicyModelsInvalid = 21,
}

/// <summary>The outcome of a keep-alive of a reservation.</summary>
public enum KeepAliveResult : byte
{
    Ok = 0,
    NotFound = 1,
    AlreadyFinished = 2,
    LogFull = 3,
}

/// <summary>Where a reservation is in its life.</summary>
public enum ReservationStatus : byte
{
    Open = 0,
    Settled = 1,
    Refunded = 2,
    Expired = 3,
}

/// <summary>A point-in-time copy of one reservation record.</summary>
public readonly record struct ReservationView(
    ReservationId Id, int TokenId, long AmountUnits, long RequestKey, ReservationStatus Status, long ChargedUnits, long ExpiresAtMs);

/// <summary>
/// What a request asks to reserve: its estimated cost, its estimated tokens (prompt + completion cap; for tokens
/// policies), its model (for scoped policies; null = a request no scoped policy applies to) and the caller's request key.
/// </summary>
public readonly record struct ReserveRequest(long AmountUnits, long Tokens = 0, string? Model = null, long RequestKey = 0);

/// <summary>The outcome of a reserve; <see cref="PolicyIndex"/> names the policy that refused (or -1).</summary>
public readonly record struct ReserveOutcome(ReserveResult Result, ReservationId Id, long ExpiresAtMs, int PolicyIndex)
{
    public bool IsOk => Result == ReserveResult.Ok;
}

/// <summary>The outcome of a settle or refund. A repeated call returns the first call's numbers with Replayed set.</summary>
public readonly record struct FinishOutcome(FinishResult Result, long ChargedUnits, bool Exhausted, bool Replayed);

/// <summary>The outcome of a create or update; <see cref="PolicyIndex"/> names the offending policy (or -1).</summary>
public readonly record struct SaveOutcome(SpecError Error, int Id, int PolicyIndex)
{
    public bool IsOk => Error == SpecError.None;
}
