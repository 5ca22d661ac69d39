using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Windows;

namespace Quota.Host.Admin;

/// <summary>A policy as a client sends it (API.md). Output-only fields (used_quota, exhausted_at, …) are not read (W12).</summary>
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
}

/// <summary>Policy JSON in and out; every validation error names its field.</summary>
public static class PolicyJson
{
    public static string ModeName(PeriodMode mode) => mode switch
    {
        PeriodMode.Preset5h => "preset_5h",
        PeriodMode.Daily => "daily",
        PeriodMode.Weekly => "weekly",
        PeriodMode.Monthly => "monthly",
        _ => "custom",
    };

    public static (QuotaPolicySpec? Spec, string? Field, string? Error) Parse(PolicyInput input, string prefix, long nowMs)
    {
        bool enabled = input.Enabled ?? true;
        PeriodMode? mode = input.PeriodMode switch
        {
            "preset_5h" => PeriodMode.Preset5h,
            "daily" => PeriodMode.Daily,
            "weekly" => PeriodMode.Weekly,
            "monthly" => PeriodMode.Monthly,
            "custom" => PeriodMode.Custom,
            _ => null,
        };
        if (mode is null)
        {
            return Fail(prefix + "period_mode", "must be one of preset_5h, daily, weekly, monthly, custom");
        }

        if (mode == PeriodMode.Custom && input.CustomMinutes is not (>= WindowRule.CustomMinutesMin and <= WindowRule.CustomMinutesMax))
        {
            return Fail(prefix + "custom_minutes", "must be 10 … 525600 for a custom period");
        }

        long quota = input.Quota ?? 0;
        if ((enabled && quota <= 0) || quota < 0 || quota > EngineLimits.PolicyQuotaMaxUnits)
        {
            return Fail(prefix + "quota", $"must be 1 … {EngineLimits.PolicyQuotaMaxUnits}");
        }

        if (input.AnchorTime is <= 0 or > 253_402_300_799)
        {
            return Fail(prefix + "anchor_time", "must be a positive Unix time in seconds");
        }

        string zone = input.TimeZone ?? "UTC";
        if (WindowRule.TryFindZone(zone) is null)
        {
            return Fail(prefix + "time_zone", "must be an IANA time zone id, e.g. Europe/Berlin");
        }

        ExhaustedAction? action = input.ExhaustedAction switch
        {
            null or "reject_only" => ExhaustedAction.RejectOnly,
            "disable_token" => ExhaustedAction.DisableToken,
            _ => null,
        };
        if (action is null)
        {
            return Fail(prefix + "exhausted_action", "must be reject_only or disable_token");
        }

        BoundaryMode? boundary = input.BoundaryMode switch
        {
            null or "graceful_boundary" => BoundaryMode.Graceful,
            "strict_pre_check" => BoundaryMode.Strict,
            _ => null,
        };
        if (boundary is null)
        {
            return Fail(prefix + "boundary_mode", "must be graceful_boundary or strict_pre_check");
        }

        var spec = new QuotaPolicySpec
        {
            Enabled = enabled,
            Mode = mode.Value,
            CustomMinutes = mode == PeriodMode.Custom ? input.CustomMinutes!.Value : 0,
            QuotaUnits = quota,
            AnchorMs = (input.AnchorTime ?? (nowMs / 1000)) * 1000,
            TimeZone = zone,
            ExhaustedAction = action.Value,
            BoundaryMode = boundary.Value,
            AutoResume = input.AutoResume ?? true,
        };
        return (spec, null, null);
    }

    private static (QuotaPolicySpec?, string?, string?) Fail(string field, string error) => (null, field, error);

    public static object ToJson(int tokenId, PolicyView p)
    {
        long end = p.PeriodEndMs / 1000;
        return new
        {
            id = (tokenId * 10) + p.Index + 1,
            enabled = p.Spec.Enabled,
            period_mode = ModeName(p.Spec.Mode),
            custom_minutes = p.Spec.CustomMinutes,
            quota = p.Spec.QuotaUnits,
            anchor_time = p.Spec.AnchorMs / 1000,
            time_zone = p.Spec.TimeZone,
            exhausted_action = p.Spec.ExhaustedAction == ExhaustedAction.DisableToken ? "disable_token" : "reject_only",
            boundary_mode = p.Spec.BoundaryMode == BoundaryMode.Strict ? "strict_pre_check" : "graceful_boundary",
            auto_resume = p.Spec.AutoResume,
            used_quota = p.UsedQuotaUnits,
            reserved_quota = p.ReservedQuotaUnits,
            period_start = p.PeriodStartMs / 1000,
            period_end = end,
            next_reset_at = end,
            exhausted_at = p.ExhaustedAtMs / 1000,
            exhausted_token_status = (int)p.ExhaustedTokenStatus,
        };
    }

    /// <summary>Policy ids are stable per key and position: token_id × 10 + position + 1.</summary>
    public static int? IndexOf(int tokenId, int policyId) =>
        policyId / 10 == tokenId && policyId % 10 is >= 1 and <= EngineLimits.PoliciesPerKeyMax ? (policyId % 10) - 1 : null;
}
