using System.Threading.RateLimiting;
using Quota.Engine.Hosting;

namespace Quota.Engine.AspNetCore;

/// <summary>The metadata a refused <see cref="QuotaRateLimiter"/> lease carries besides <see cref="MetadataName.RetryAfter"/> and <see cref="MetadataName.ReasonPhrase"/>.</summary>
public static class QuotaMetadata
{
    /// <summary>Why the engine refused, which policy, and when it clears by itself (<see cref="QuotaRefusal"/>).</summary>
    public static MetadataName<QuotaRefusal> Refusal { get; } = MetadataName.Create<QuotaRefusal>("QUOTA_REFUSAL");
}
