using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

namespace Quota.Engine.Persistence;

// LiteDB documents. Plain mutable classes because LiteDB's mapper needs settable properties; they never leave the
// persistence layer's callers' cold paths.

/// <summary>The newest snapshot: it holds every delta record up to <see cref="Sequence"/>; replay resumes at <see cref="ResumeAddress"/>.</summary>
internal sealed class SnapshotDocument
{
    public int Id { get; set; } = 1;
    public long Sequence { get; set; }
    public long ResumeAddress { get; set; }
    public string FileId { get; set; } = "";
    public long Bytes { get; set; }
    public long CreatedMs { get; set; }
}

/// <summary>A user's labels (the wallet's numbers live in the engine), and the base of its wallet alerts.</summary>
internal sealed class UserDocument
{
    public int Id { get; set; }
    public string Name { get; set; } = "";
    public long CreatedMs { get; set; }
    /// <summary>The user's price group (the host's <c>Pricing:Groups</c>); null: the default group.</summary>
    public string? Group { get; set; }
    /// <summary>The wallet's balance at its last top-up: what its alert thresholds are of (0: none yet).</summary>
    public long AlertBaseUnits { get; set; }
    /// <summary>When that top-up happened.</summary>
    public long AlertSinceMs { get; set; }
}

/// <summary>
/// A message the host must deliver at least once (a budget alert to one webhook), kept until it is delivered so a
/// restart loses none. <see cref="Id"/> is unique per message and target: inserting it again is a no-op.
/// </summary>
internal sealed class OutboxDocument
{
    public string Id { get; set; } = "";
    /// <summary>The idempotency id the receiver sees (the same for every target and every try).</summary>
    public string EventId { get; set; } = "";
    public string Target { get; set; } = "";
    public string Body { get; set; } = "";
    public long CreatedMs { get; set; }
    public int Attempts { get; set; }
    public long NextAttemptMs { get; set; }
    /// <summary>0 while pending; when it was delivered; -1 when it was given up.</summary>
    public long DeliveredMs { get; set; }
    public string? LastError { get; set; }
}

/// <summary>
/// A key's labels and lookup hash, written by the host in one document (atomic). The engine never reads them:
/// the full key is never stored, only its SHA-256 (<see cref="KeyHash"/>) and the preview the host shows.
/// </summary>
internal sealed class TokenDocument
{
    public int Id { get; set; }
    public int UserId { get; set; }
    public string Name { get; set; } = "";
    public string KeyHash { get; set; } = "";
    public string KeyPreview { get; set; } = "";
    public long CreatedMs { get; set; }
}

/// <summary>
/// A gateway key of the host's quota API (a credential that is not the admin key): its name and the SHA-256 of the key,
/// never the key itself.
/// </summary>
internal sealed class GatewayKeyDocument
{
    public int Id { get; set; }
    public string Name { get; set; } = "";
    public string KeyHash { get; set; } = "";
    public string KeyPreview { get; set; } = "";
    public long CreatedMs { get; set; }
}

/// <summary>What a log row records. Stored: never renumber. A system event's kind has its audit action's value.</summary>
internal enum LogKind : byte
{
    /// <summary>A request charged through the host (the relay); its details are the host's (<see cref="LogDocument.HostJson"/>).</summary>
    Consume = 0,
    ExhaustedDisable = AuditAction.ExhaustedDisable,
    AutoRestoreReset = AuditAction.AutoRestoreReset,
    ManualReset = AuditAction.ManualReset,
    UpdateDisable = AuditAction.UpdateDisable,
    UpdateRestore = AuditAction.UpdateRestore,
    ReservationExpired = AuditAction.ReservationExpired,
    ThresholdReached = AuditAction.ThresholdReached,
    ShadowRefusal = AuditAction.ShadowRefusal,
    /// <summary>
    /// A request the host refused (its reserve, or its early check); its details are the host's (<see cref="LogDocument.HostJson"/>).
    /// Host rows take values from 64 up, apart from the audit actions'.
    /// </summary>
    Refusal = 64,
}

/// <summary>
/// One row of the owner-visible log, as a structured event: what happened (<see cref="Kind"/>), to which key, user and
/// policy, with its numbers and times. No sentences and no API names: the host renders those in the reader's language.
/// Fields a kind does not use stay at their defaults (-1 for <see cref="PolicyIndex"/>).
/// </summary>
internal sealed class LogDocument
{
    public long Id { get; set; }
    public long AtMs { get; set; }
    public LogKind Kind { get; set; }
    public int UserId { get; set; }
    public int TokenId { get; set; }
    /// <summary>The policy's position on its key (0 … 3); -1 for none (a wallet, a reservation, a request).</summary>
    public int PolicyIndex { get; set; } = -1;
    /// <summary>What the policy counts: <see cref="UsedUnits"/> and <see cref="LimitUnits"/> are in it.</summary>
    public PolicyMetric Metric { get; set; }
    /// <summary>The window's (or, for a wallet threshold, the spend since the last top-up's) usage at the event.</summary>
    public long UsedUnits { get; set; }
    /// <summary>The policy's quota per window, or a wallet's balance at its last top-up.</summary>
    public long LimitUnits { get; set; }
    public long WindowStartMs { get; set; }
    /// <summary>The window's end: the next reset.</summary>
    public long WindowEndMs { get; set; }
    /// <summary>The key's status before a pause or restore.</summary>
    public TokenStatus PreviousStatus { get; set; }
    public long ReservationId { get; set; }
    /// <summary>Quota units charged (consume, expiry).</summary>
    public long AmountUnits { get; set; }
    /// <summary>The threshold crossed (percent of <see cref="LimitUnits"/>).</summary>
    public int ThresholdPercent { get; set; }
    /// <summary>Fields the host adds to its own rows (consume rows: model, tokens, estimate), opaque to the engine.</summary>
    public string? HostJson { get; set; }

    /// <summary>The row of an audit event.</summary>
    public static LogDocument From(in AuditEvent e) => new()
    {
        AtMs = e.AtMs,
        Kind = (LogKind)e.Action,
        UserId = e.UserId,
        TokenId = e.TokenId,
        PolicyIndex = e.PolicyIndex,
        Metric = e.Metric,
        UsedUnits = e.UsedQuotaUnits,
        LimitUnits = e.QuotaUnits,
        WindowStartMs = e.NewPeriodStartMs,
        WindowEndMs = e.NextResetAtMs,
        PreviousStatus = e.PreviousStatus,
        ReservationId = e.ReservationId.Value,
        AmountUnits = e.AmountUnits,
        ThresholdPercent = e.ThresholdPercent,
    };
}

/// <summary>
/// One hour's counters of one host-defined dimension (a model, a key, a refusal reason), kept up to date in the same
/// transaction as the log rows they count (<see cref="ILogRollup"/>), so they lose exactly what the log loses.
/// <see cref="Id"/> names the hour and the dimension; the engine never reads the dimension's fields.
/// </summary>
internal sealed class RollupDocument
{
    public string Id { get; set; } = "";
    /// <summary>The hour's start, UTC Unix ms.</summary>
    public long HourMs { get; set; }
    /// <summary>Which family of dimension (the host's numbering).</summary>
    public int Family { get; set; }
    public string Name { get; set; } = "";
    public string Group { get; set; } = "";
    public int TokenId { get; set; }
    public int UserId { get; set; }
    public int PolicyIndex { get; set; } = -1;
    public long Requests { get; set; }
    public long Units { get; set; }
    public long Tokens { get; set; }
}

/// <summary>
/// Turns a batch of log rows into rollup increments (added to the stored counters in the rows' transaction), and hears
/// of them once that transaction committed. Called on the log writer's one thread.
/// </summary>
internal interface ILogRollup
{
    /// <summary>The increments of a batch, at most one per <see cref="RollupDocument.Id"/>.</summary>
    IReadOnlyCollection<RollupDocument> Of(IReadOnlyCollection<LogDocument> rows);

    /// <summary>The increments (and the rows they came from) are stored. Must not throw: the writer would store the batch again.</summary>
    void Committed(IReadOnlyCollection<RollupDocument> increments, IReadOnlyCollection<LogDocument> rows);
}

/// <summary>A filter of the log, newest first; <see cref="FromMs"/> inclusive, <see cref="ToMs"/> exclusive.
/// <see cref="Consume"/> true: only consume rows, false: only system events; <see cref="Kind"/>: only that kind.
/// <see cref="BeforeId"/>: only rows with a smaller id (a cursor: the last id of the page before).</summary>
internal sealed record LogQuery(int? TokenId = null, int? UserId = null, bool? Consume = null, LogKind? Kind = null, int Page = 1, int Size = 20,
    long? FromMs = null, long? ToMs = null, long? BeforeId = null);
