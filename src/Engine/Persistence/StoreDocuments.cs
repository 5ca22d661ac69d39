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

/// <summary>A user's labels (the wallet's numbers live in the engine).</summary>
internal sealed class UserDocument
{
    public int Id { get; set; }
    public string Name { get; set; } = "";
    public long CreatedMs { get; set; }
}

/// <summary>
/// A key's labels and lookup hash, plus a readable copy of its configuration, written as one document (atomic).
/// The full key is never stored: only its SHA-256 (<see cref="KeyHash"/>) and a preview.
/// </summary>
internal sealed class TokenDocument
{
    public int Id { get; set; }
    public int UserId { get; set; }
    public string Name { get; set; } = "";
    public string KeyHash { get; set; } = "";
    public string KeyPreview { get; set; } = "";
    public long CreatedMs { get; set; }
    public string ConfigJson { get; set; } = "";
}

/// <summary>One row of the owner-visible log: a system event (audit) or a consume record.</summary>
internal sealed class LogDocument
{
    public long Id { get; set; }
    public long CreatedMs { get; set; }
    public string Type { get; set; } = "system";
    public int UserId { get; set; }
    public int TokenId { get; set; }
    public string Action { get; set; } = "";
    public string Content { get; set; } = "";
    public string ParamsJson { get; set; } = "{}";
    public string? Model { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public long QuotaUnits { get; set; }
}

/// <summary>A filter of the log, newest first; <see cref="FromMs"/> inclusive, <see cref="ToMs"/> exclusive.</summary>
internal sealed record LogQuery(int? TokenId = null, int? UserId = null, string? Type = null, string? Action = null, int Page = 1, int Size = 20,
    long? FromMs = null, long? ToMs = null);
