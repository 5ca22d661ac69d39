namespace Quota.Engine.Model;

/// <summary>
/// A periodic quota policy as configured by an operator: the input of SaveToken. It carries no counters
/// (client-sent counters are ignored by design); the engine owns used/reserved/window state.
/// <see cref="SpecValidation.ValidatePolicy"/> checks every field against the bounds in <see cref="EngineLimits"/>.
/// An immutable value: safe to share between threads.
/// </summary>
public sealed record QuotaPolicySpec
{
    /// <summary>
    /// False: the position is kept (validated, stored) but counts and refuses nothing; enabling it again starts a new
    /// window.
    /// </summary>
    public bool Enabled { get; init; } = true;
    /// <summary>How the windows tile time: fixed (5 h, custom minutes) or calendar (day, week, month in <see cref="TimeZone"/>).</summary>
    public PeriodMode Mode { get; init; } = PeriodMode.Daily;
    /// <summary>
    /// Window length in minutes; only for <see cref="PeriodMode.Custom"/>: <see cref="EngineLimits.CustomMinutesMin"/> (a
    /// spend policy) or <see cref="EngineLimits.RateCustomMinutesMin"/> (tokens, requests) … <see cref="EngineLimits.CustomMinutesMax"/>.
    /// </summary>
    public int CustomMinutes { get; init; }
    /// <summary>
    /// The limit per window, in the policy's <see cref="Metric"/>: 1 … <see cref="EngineLimits.PolicyQuotaMaxUnits"/>
    /// (0 allowed only while disabled).
    /// </summary>
    public long QuotaUnits { get; init; }
    /// <summary>
    /// The instant windows are aligned to, UTC Unix milliseconds, <see cref="EngineLimits.PolicyAnchorMinMs"/> …
    /// <see cref="EngineLimits.PolicyAnchorMaxMs"/>: windows start at the anchor and repeat from it.
    /// </summary>
    public long AnchorMs { get; init; }
    /// <summary>IANA zone id (e.g. <c>Europe/Berlin</c>) in which calendar periods start; fixed periods ignore it.</summary>
    public string TimeZone { get; init; } = "UTC";
    /// <summary>What happens when a window is used up: refuse only this policy's requests, or pause the whole key.</summary>
    public ExhaustedAction ExhaustedAction { get; init; } = ExhaustedAction.RejectOnly;
    /// <summary>Whether the request that crosses the quota is admitted (graceful) or must fit entirely (strict).</summary>
    public BoundaryMode BoundaryMode { get; init; } = BoundaryMode.Graceful;
    /// <summary>
    /// For <see cref="ExhaustedAction.DisableToken"/>: true restores the paused key when the next window starts; false
    /// keeps it paused until <see cref="QuotaEngine.ResetPolicies"/>.
    /// </summary>
    public bool AutoResume { get; init; } = true;
    /// <summary>Enforce (refuse) or shadow (count what it would refuse, refuse nothing, never pause the key).</summary>
    public PolicyEnforcement Enforcement { get; init; } = PolicyEnforcement.Enforce;
    /// <summary>What the policy counts; <see cref="QuotaUnits"/> is its limit per window in that metric.</summary>
    public PolicyMetric Metric { get; init; } = PolicyMetric.Quota;
    /// <summary>Models the policy applies to: exact ids or <c>prefix*</c> patterns; empty = every model.</summary>
    public IReadOnlyList<string> Models { get => models; init => models = value is null ? [] : [.. value]; }

    private readonly string[] models = [];

    /// <summary>
    /// Whether the policy applies to a request for <paramref name="model"/> (null: a request that names no model, to which
    /// only unscoped policies apply). The cold-path form of the rule the reserve path reads from the per-key table built
    /// at save (Accounts/ModelScope.cs): unscoped (no models, or a lone <c>*</c>), an exact id, or a <c>prefix*</c>.
    /// </summary>
    public bool AppliesTo(string? model)
    {
        if (models.Length == 0 || Array.IndexOf(models, "*") >= 0)
        {
            return true;
        }

        if (model is null)
        {
            return false;
        }

        foreach (string pattern in models)
        {
            bool match = pattern.EndsWith('*')
                ? model.AsSpan().StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)
                : string.Equals(model, pattern, StringComparison.Ordinal);
            if (match)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Same configuration (records compare lists by reference).</summary>
    public bool Equals(QuotaPolicySpec? other) =>
        other is not null && Enabled == other.Enabled && Mode == other.Mode && CustomMinutes == other.CustomMinutes &&
        QuotaUnits == other.QuotaUnits && AnchorMs == other.AnchorMs && TimeZone == other.TimeZone &&
        ExhaustedAction == other.ExhaustedAction && BoundaryMode == other.BoundaryMode && AutoResume == other.AutoResume &&
        Enforcement == other.Enforcement && Metric == other.Metric && Models.SequenceEqual(other.Models);

    /// <summary>A hash consistent with <see cref="Equals(QuotaPolicySpec?)"/>.</summary>
    public override int GetHashCode() => HashCode.Combine(Mode, QuotaUnits, AnchorMs, Metric, Models.Count);
}
