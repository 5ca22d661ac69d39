using System.Globalization;
using Quota.Engine.Hosting;
using Quota.Engine.Model;

namespace Quota.Engine.AI;

/// <summary>
/// The quota engine refused a call before it reached the model: <see cref="Reason"/> says what refused, and
/// <see cref="ResetsAt"/> when the refusal clears by itself (null: not by itself — an empty wallet or key budget, or a
/// policy that waits for a manual reset). Nothing was reserved or charged.
/// </summary>
public sealed class QuotaExceededException : Exception
{
    /// <summary>A refusal explained by the engine.</summary>
    public QuotaExceededException(QuotaRefusal refusal)
        : base(MessageOf(refusal))
    {
        Refusal = refusal;
    }

    /// <summary>Not for use: a refusal always has its <see cref="QuotaRefusal"/>.</summary>
    public QuotaExceededException()
        : this(new QuotaRefusal(ReserveResult.KeyNotFound, -1, null))
    {
    }

    /// <summary>Not for use: a refusal always has its <see cref="QuotaRefusal"/>.</summary>
    public QuotaExceededException(string message)
        : base(message)
    {
        Refusal = new QuotaRefusal(ReserveResult.KeyNotFound, -1, null);
    }

    /// <summary>Not for use: a refusal always has its <see cref="QuotaRefusal"/>.</summary>
    public QuotaExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Refusal = new QuotaRefusal(ReserveResult.KeyNotFound, -1, null);
    }

    /// <summary>The engine's refusal: reason, refusing policy, reset time.</summary>
    public QuotaRefusal Refusal { get; }

    /// <summary>What refused.</summary>
    public ReserveResult Reason => Refusal.Reason;

    /// <summary>When the refusal clears by itself, or null when it does not.</summary>
    public DateTimeOffset? ResetsAt => Refusal.ResetsAt;

    private static string MessageOf(QuotaRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        string policy = refusal.PolicyIndex >= 0 ? string.Create(CultureInfo.InvariantCulture, $" (policy {refusal.PolicyIndex})") : "";
        string when = refusal.ResetsAt is { } at
            ? string.Create(CultureInfo.InvariantCulture, $"; it clears by itself at {at:O}")
            : "; it does not clear by itself";
        return $"The quota engine refused the call: {refusal.Reason}{policy}{when}";
    }
}
