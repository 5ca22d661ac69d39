using Quota.Engine.Model;

namespace Quota.Host.Cluster;

/// <summary>A user as the store keeps it (its wallet's numbers are its account, not this document); <paramref name="Group"/>:
/// its price group, null for the default one (and in documents saved before users had groups).</summary>
public sealed record UserDocumentInStore(int Id, string Name, long CreatedMs, string? Group = null);

/// <summary>
/// A key as the store keeps it: its whole configuration, with the real quotas (every node enforces them through leases;
/// the local engines count usage only). Saved whole, so a key and its policies change together.
/// </summary>
public sealed record TokenDocumentInStore(
    int Id,
    int UserId,
    string Name,
    string KeyHash,
    string KeyPreview,
    long CreatedMs,
    TokenStatus Status,
    bool Unlimited,
    long ExpiresAtMs,
    QuotaPolicySpec[] Policies,
    bool Deleted);
