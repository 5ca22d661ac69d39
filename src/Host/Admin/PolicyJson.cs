using System.ComponentModel;
using Quota.Engine;
using Quota.Engine.Model;

namespace Quota.Host.Admin;

/// <summary>A policy as a client sends it (docs/api.md "Keys (tokens)"). Output-only fields (used_quota, exhausted_at, …) are not read: the engine owns its counters.</summary>
public sealed class PolicyInput
{
    public bool? Enabled { get; set; }
    public string? PeriodMode { get; set; }
    public int? CustomMinutes { get; set; }
    public long? Quota { get; set; }
    public long? AnchorTime { get; set; }
    public string? TimeZone { get; set; }
    public string? ExhaustedAction { get; set; }
    public string? BoundaryMode { get; set; }
    public bool? AutoResume { get; set; }
    [Description(PolicyNames.MetricDescription)]
    public string? Metric { get; set; }
    [Description(PolicyNames.ModelsDescription)]
    public string[]? Models { get; set; }
    [Description(PolicyNames.EnforcementDescription)]
    public string? Mode { get; set; }
}

/// <summary>
/// Policy JSON in and out. Parsing only translates the wire form into the engine's <see cref="QuotaPolicySpec"/>;
/// the engine's validation judges it and <see cref="Errors.SpecErrors"/> names the field (one validation source).
/// </summary>
public static class PolicyJson
{
    public static string ModeName(PeriodMode mode) => PolicyNames.NameOf(PolicyNames.Modes, mode);

    public static QuotaPolicySpec Parse(PolicyInput input, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(input);
        var defaults = new QuotaPolicySpec();
        PeriodMode mode = PolicyNames.Parse(PolicyNames.Modes, input.PeriodMode, (PeriodMode)byte.MaxValue); // required
        return new QuotaPolicySpec
        {
            Enabled = input.Enabled ?? defaults.Enabled,
            Mode = mode,
            CustomMinutes = mode == PeriodMode.Custom ? input.CustomMinutes ?? 0 : 0,
            QuotaUnits = input.Quota ?? 0,
            AnchorMs = input.AnchorTime is { } seconds ? SecondsToMs(seconds) : nowMs / 1000 * 1000,
            TimeZone = input.TimeZone ?? defaults.TimeZone,
            ExhaustedAction = PolicyNames.Parse(PolicyNames.ExhaustedActions, input.ExhaustedAction, defaults.ExhaustedAction),
            BoundaryMode = PolicyNames.Parse(PolicyNames.BoundaryModes, input.BoundaryMode, defaults.BoundaryMode),
            AutoResume = input.AutoResume ?? defaults.AutoResume,
            Metric = PolicyNames.Parse(PolicyNames.Metrics, input.Metric, defaults.Metric),
            Models = input.Models ?? [],
            Enforcement = PolicyNames.Parse(PolicyNames.Enforcements, input.Mode, defaults.Enforcement),
        };
    }

    /// <summary>Seconds to milliseconds; a value that overflows becomes one the engine's range check refuses.</summary>
    public static long SecondsToMs(long seconds) =>
        seconds > long.MaxValue / 1000 ? long.MaxValue : seconds < long.MinValue / 1000 ? long.MinValue : seconds * 1000;

    public static PolicyResponse ToJson(int tokenId, PolicyView p)
    {
        ArgumentNullException.ThrowIfNull(p);
        long end = p.PeriodEndMs / 1000;
        return new PolicyResponse(
            Id: (tokenId * 10) + p.Index + 1,
            Enabled: p.Spec.Enabled,
            PeriodMode: ModeName(p.Spec.Mode),
            CustomMinutes: p.Spec.CustomMinutes,
            Quota: p.Spec.QuotaUnits,
            AnchorTime: p.Spec.AnchorMs / 1000,
            TimeZone: p.Spec.TimeZone,
            ExhaustedAction: PolicyNames.NameOf(PolicyNames.ExhaustedActions, p.Spec.ExhaustedAction),
            BoundaryMode: PolicyNames.NameOf(PolicyNames.BoundaryModes, p.Spec.BoundaryMode),
            AutoResume: p.Spec.AutoResume,
            UsedQuota: p.UsedQuotaUnits,
            ReservedQuota: p.ReservedQuotaUnits,
            PeriodStart: p.PeriodStartMs / 1000,
            PeriodEnd: end,
            NextResetAt: end,
            ExhaustedAt: p.ExhaustedAtMs / 1000,
            ExhaustedTokenStatus: (int)p.ExhaustedTokenStatus,
            Metric: PolicyNames.NameOf(PolicyNames.Metrics, p.Spec.Metric),
            Models: p.Spec.Models,
            Mode: PolicyNames.NameOf(PolicyNames.Enforcements, p.Spec.Enforcement),
            ShadowRefusals: p.ShadowRefusals);
    }

    /// <summary>Policy ids are stable per key and position: token_id × 10 + position + 1.</summary>
    public static int? IndexOf(int tokenId, int policyId) =>
        policyId / 10 == tokenId && policyId % 10 is >= 1 and <= EngineLimits.PoliciesPerKeyMax ? (policyId % 10) - 1 : null;
}
