using Quota.Engine.Model;
using Quota.Host.Admin;

namespace Quota.Host.Limits;

/// <summary>What the unified headers, <c>GET /api/oauth/usage</c>, the console and <c>/me</c> say of a key's limits.</summary>
public enum UnifiedStatus : byte
{
    Allowed = 0,
    /// <summary>At or above <c>Relay:UnifiedWarnAt</c> in either window, or spending fast enough to run out of the week early.</summary>
    AllowedWarning = 1,
    /// <summary>This request was refused.</summary>
    Rejected = 2,
}

/// <summary>
/// A key's limits the way Claude and Codex users know them (docs/relay.md "Unified limits"): its 5-hour window (the
/// key's <c>preset_5h</c> policy) and its 7-day window (its <c>weekly</c> policy), each as used ÷ quota and a reset,
/// and a status. Computed from one <see cref="TokenView"/> the caller already read, without allocating: a struct that
/// holds two of the view's policies. Where a key has two enforced policies of one period (say one counting quota units
/// and one counting tokens), the window is the one nearer exhaustion.
/// </summary>
public readonly record struct UnifiedLimits(PolicyView? FiveHour, PolicyView? SevenDay, UnifiedStatus Status, bool BurnRateWarning)
{
    /// <summary>The default of <c>Relay:UnifiedWarnAt</c>: the status turns to <c>allowed_warning</c> at 80 % used.</summary>
    public const double DefaultWarnAt = 0.8;

    /// <summary>
    /// The limits of <paramref name="token"/> for a request for <paramref name="model"/> (null: every policy, as for a
    /// status line; otherwise the policies that apply to the model, and the one that refused it).
    /// </summary>
    public static UnifiedLimits Of(TokenView token, long nowMs, double warnAt, string? model = null, bool refused = false, int refusedBy = -1)
    {
        ArgumentNullException.ThrowIfNull(token);
        PolicyView? fiveHour = null, sevenDay = null;
        for (int i = 0; i < token.Policies.Count; i++) // an index, not foreach: no enumerator boxed per answer
        {
            PolicyView policy = token.Policies[i];
            if (!PolicyNames.Limits(policy.Spec) || policy.Spec.QuotaUnits <= 0 ||
                (model is not null && policy.Index != refusedBy && !policy.Spec.AppliesTo(model)))
            {
                continue;
            }

            if (IsFiveHour(policy.Spec))
            {
                fiveHour = Nearer(fiveHour, policy);
            }
            else if (policy.Spec.Mode == PeriodMode.Weekly)
            {
                sevenDay = Nearer(sevenDay, policy);
            }
        }

        bool burning = fiveHour is not null && sevenDay is not null && BurnRate.WouldExhaustBeforeReset(fiveHour, sevenDay, nowMs);
        UnifiedStatus status = refused ? UnifiedStatus.Rejected
            : burning || Math.Max(Utilization(fiveHour), Utilization(sevenDay)) >= warnAt ? UnifiedStatus.AllowedWarning
            : UnifiedStatus.Allowed;
        return new UnifiedLimits(fiveHour, sevenDay, status, burning);
    }

    /// <summary>Whether the key has either window at all (a key with neither still gets a status, but no claim).</summary>
    public bool HasWindow => FiveHour is not null || SevenDay is not null;

    /// <summary><c>five_hour</c> or <c>seven_day</c>: the window nearer exhaustion (on a tie, the 5-hour one).</summary>
    public string? RepresentativeClaim =>
        SevenDay is not null && (FiveHour is null || Utilization(SevenDay) > Utilization(FiveHour)) ? "seven_day"
        : FiveHour is not null ? "five_hour"
        : null;

    /// <summary>The status's wire name.</summary>
    public string StatusName => Status switch
    {
        UnifiedStatus.AllowedWarning => "allowed_warning",
        UnifiedStatus.Rejected => "rejected",
        _ => "allowed",
    };

    /// <summary>Used ÷ quota of a window, 0 … 1, in ten-thousandths (see <see cref="TenThousandths"/>).</summary>
    public static double Utilization(PolicyView? policy) => policy is null ? 0 : TenThousandths(policy) / 10_000.0;

    /// <summary>
    /// Used ÷ quota in whole ten-thousandths, rounded down, 0 … 10,000, in exact arithmetic: every place that shows it
    /// (headers, percent, status) agrees, and a window just below <c>Relay:UnifiedWarnAt</c> never reads as at it. A
    /// graceful window's last request may take usage past its quota: shown as all of it.
    /// </summary>
    public static long TenThousandths(PolicyView policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.Spec.QuotaUnits <= 0 ? 0
            : (long)Math.Clamp(Math.Floor((decimal)Math.Max(0, policy.UsedQuotaUnits) * 10_000 / policy.Spec.QuotaUnits), 0, 10_000);
    }

    /// <summary>The window's end in Unix seconds, rounded up (a reset is never announced early).</summary>
    public static long ResetSeconds(PolicyView policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return (policy.PeriodEndMs + 999) / 1000;
    }

    /// <summary>The same reset in ISO 8601, UTC: <c>2026-12-08T07:38:54Z</c> (<c>/api/oauth/usage</c>, the console's <c>&lt;time&gt;</c>).</summary>
    public static string ResetIso(PolicyView policy) =>
        DateTimeOffset.FromUnixTimeSeconds(ResetSeconds(policy)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The policies that count as the 5-hour window. A session window (a 5-hour window that starts with the first
    /// request) will count as well once keys can have one.
    /// </summary>
    private static bool IsFiveHour(QuotaPolicySpec spec) => spec.Mode == PeriodMode.Preset5h;

    private static PolicyView Nearer(PolicyView? current, PolicyView candidate) =>
        current is null || Utilization(candidate) > Utilization(current) ? candidate : current;
}
