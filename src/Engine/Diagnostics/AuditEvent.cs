using Quota.Engine.Model;

namespace Quota.Engine.Diagnostics;

/// <summary>The owner-visible system log actions (the system log's actions, docs/api.md "Logs"). Never renumber.</summary>
public enum AuditAction : byte
{
    /// <summary>A disable_token policy's window was used up and paused the key (token.quota_policy.exhausted_disable).</summary>
    ExhaustedDisable = 1,
    /// <summary>A new window started and restored the key that policy had paused (token.quota_policy.auto_restore_reset).</summary>
    AutoRestoreReset = 2,
    /// <summary>An operator cleared a window's usage (token.quota_policy.manual_reset).</summary>
    ManualReset = 3,
    /// <summary>An update set a quota that is already used up, pausing the key (token.quota_policy.update_disable).</summary>
    UpdateDisable = 4,
    /// <summary>An update lifted a policy's pause (token.quota_policy.update_restore).</summary>
    UpdateRestore = 5,
    /// <summary>A reservation passed its TTL unfinished and was settled at its estimate (reservation.expired).</summary>
    ReservationExpired = 6,
    /// <summary>
    /// A policy window's usage, or a wallet's spend since its last top-up, crossed an alert threshold (docs/alerts.md).
    /// Emitted on the finish path by the one charge that crosses it; never per request otherwise.
    /// </summary>
    ThresholdReached = 7,
    /// <summary>
    /// A shadow policy would have refused a request it let through: logged at the first such request of each window
    /// (token.quota_policy.shadow_refusal); the window's exact count is on the policy (docs/design.md "Shadow policies").
    /// </summary>
    ShadowRefusal = 8,
}

/// <summary>
/// A system-log event as a plain value; the host or persistence layer turns it into a log row.
/// Emitted only on cold transitions (pause, restore, reset, save, expiry, a threshold crossed), never per request.
/// <see cref="Metric"/> is what the policy counts (<see cref="UsedQuotaUnits"/> and <see cref="QuotaUnits"/> are in it);
/// a reservation expiry has none. <see cref="ThresholdPercent"/> is set only for <see cref="AuditAction.ThresholdReached"/>
/// (with <see cref="PolicyIndex"/> -1 for a wallet: then the numbers are the spend since, and the balance at, its last top-up).
/// </summary>
/// <param name="Action">What happened.</param>
/// <param name="TokenId">The key it happened to.</param>
/// <param name="UserId">The key's user (wallet).</param>
/// <param name="PolicyIndex">The policy's position on the key (0 … 3); -1 when the event is not about one policy.</param>
/// <param name="AtMs">When, UTC Unix ms (the operation's <c>nowMs</c>).</param>
/// <param name="UsedQuotaUnits">The window's usage at the event, in <paramref name="Metric"/> (a wallet threshold: the spend since the top-up).</param>
/// <param name="QuotaUnits">The policy's quota per window, in <paramref name="Metric"/> (a wallet threshold: the balance at the top-up).</param>
/// <param name="NextResetAtMs">When the current window ends (the next reset), UTC Unix ms; 0 when not about a window.</param>
/// <param name="NewPeriodStartMs">The current window's start, UTC Unix ms (a wallet threshold: the top-up's time); 0 when not about a window.</param>
/// <param name="PreviousStatus">The key's operator status before a pause or a restore; <see cref="TokenStatus.None"/> otherwise.</param>
/// <param name="ReservationId">The reservation of an expiry; <see cref="ReservationId.None"/> otherwise.</param>
/// <param name="AmountUnits">Quota units charged by the event: an expiry's estimate, a wallet threshold's crossing charge; 0 otherwise.</param>
/// <param name="Metric">What the policy counts.</param>
/// <param name="ThresholdPercent">The alert threshold crossed, in percent; 0 unless <see cref="AuditAction.ThresholdReached"/>.</param>
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
    /// <summary>
    /// Takes one event. Called from any thread, under the key's lock: copy or enqueue it and return; never block, never
    /// call back into the engine, never throw.
    /// </summary>
    void Record(in AuditEvent auditEvent);

    /// <summary>
    /// Called before a checkpoint stores a snapshot, on the checkpoint's thread: make every event received so far durable,
    /// or throw (the checkpoint then fails and is retried). Recovery re-emits the budget alerts of the records after the
    /// snapshot (docs/alerts.md "Crashes"), so an alert whose record a snapshot covers must already be kept.
    /// </summary>
    void BeforeCheckpoint()
    {
    }
}

/// <summary>Discards audit events.</summary>
internal sealed class NullAuditSink : IAuditSink
{
    public static readonly NullAuditSink Instance = new();

    public void Record(in AuditEvent auditEvent)
    {
    }
}
