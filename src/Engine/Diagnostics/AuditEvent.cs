using Quota.Engine.Model;

namespace Quota.Engine.Diagnostics;

/// <summary>The owner-visible system log actions (the system log's actions, docs/api.md "Logs"). Never renumber.</summary>
public enum AuditAction : byte
{
    /// <summary>token.quota_policy.exhausted_disable</summary>
    ExhaustedDisable = 1,
    /// <summary>token.quota_policy.auto_restore_reset</summary>
    AutoRestoreReset = 2,
    /// <summary>token.quota_policy.manual_reset</summary>
    ManualReset = 3,
    /// <summary>token.quota_policy.update_disable</summary>
    UpdateDisable = 4,
    /// <summary>token.quota_policy.update_restore</summary>
    UpdateRestore = 5,
    /// <summary>reservation.expired</summary>
    ReservationExpired = 6,
    /// <summary>
    /// A policy window's usage, or a wallet's spend since its last top-up, crossed an alert threshold (docs/alerts.md).
    /// Emitted on the finish path by the one charge that crosses it; never per request otherwise.
    /// </summary>
    ThresholdReached = 7,
}

/// <summary>
/// A system-log event as a plain value; the host or persistence layer turns it into a log row.
/// Emitted only on cold transitions (pause, restore, reset, save, expiry, a threshold crossed), never per request.
/// <see cref="Metric"/> is what the policy counts (<see cref="UsedQuotaUnits"/> and <see cref="QuotaUnits"/> are in it);
/// a reservation expiry has none. <see cref="ThresholdPercent"/> is set only for <see cref="AuditAction.ThresholdReached"/>
/// (with <see cref="PolicyIndex"/> -1 for a wallet: then the numbers are the spend since, and the balance at, its last top-up).
/// </summary>
public readonly record struct AuditEvent(
    AuditAction Action,
    int TokenId,
    int UserId,
    int PolicyIndex,
    long AtMs,
    long UsedQuotaUnits,
    long QuotaUnits,
    long NextResetAtMs,
    long NewPeriodStartMs,
    TokenStatus PreviousStatus,
    ReservationId ReservationId,
    long AmountUnits,
    PolicyMetric Metric = PolicyMetric.Quota,
    int ThresholdPercent = 0);

/// <summary>Receives audit events; must not block (called under a key's lock).</summary>
public interface IAuditSink
{
    void Record(in AuditEvent auditEvent);
}

/// <summary>Discards audit events.</summary>
public sealed class NullAuditSink : IAuditSink
{
    public static readonly NullAuditSink Instance = new();

    public void Record(in AuditEvent auditEvent)
    {
    }
}
