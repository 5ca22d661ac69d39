using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Windows;
using Quota.Host.Admin;

namespace Quota.Host.Errors;

/// <summary>
/// The one table from the engine's spec validation to HTTP: every <see cref="SpecError"/> value has a row with its
/// status, the field it names (policy fields relative to their policy) and a message built from the engine's own
/// bounds, so no range is written twice.
/// </summary>
public static class SpecErrors
{
    public static (int Status, string? Field, string Message) Of(SpecError error) => error switch
    {
        SpecError.UserNotFound => (400, "user_id", "no such user"),
        SpecError.TokenNotFound => (404, null, "no such token"),
        SpecError.StatusInvalid => (400, "status", "must be 1 (enabled) or 2 (disabled)"),
        SpecError.RemainQuotaInvalid => (400, "remain_quota", $"must be from 0 to {EngineLimits.BalanceMaxUnits}"),
        SpecError.ExpiresAtInvalid => (400, "expired_time", $"must be -1 (never) or a Unix time in seconds from 1 to {EngineLimits.TimeMaxMs / 1000}"),
        SpecError.TooManyPolicies => (400, "quota_policies", $"at most {EngineLimits.PoliciesPerKeyMax} policies"),
        SpecError.PolicyQuotaInvalid => (400, "quota", $"must be from 1 to {EngineLimits.PolicyQuotaMaxUnits} (0 is allowed on a disabled policy)"),
        SpecError.PolicyAnchorInvalid => (400, "anchor_time", $"must be a Unix time in seconds from {WindowRule.AnchorMinMs / 1000} to {WindowRule.AnchorMaxMs / 1000} (years 2000–2099)"),
        SpecError.PolicyPeriodModeInvalid => (400, "period_mode", $"must be one of {PolicyNames.List(PolicyNames.Modes)}"),
        SpecError.PolicyCustomMinutesInvalid => (400, "custom_minutes", $"must be from {WindowRule.CustomMinutesMin} to {WindowRule.CustomMinutesMax} for a custom period ({WindowRule.RateCustomMinutesMin} for tokens and requests policies)"),
        SpecError.PolicyExhaustedActionInvalid => (400, "exhausted_action", $"must be one of {PolicyNames.List(PolicyNames.ExhaustedActions)}"),
        SpecError.PolicyBoundaryModeInvalid => (400, "boundary_mode", $"must be one of {PolicyNames.List(PolicyNames.BoundaryModes)}"),
        SpecError.PolicyTimeZoneInvalid => (400, "time_zone", "must be an IANA time zone id, e.g. Europe/Berlin"),
        SpecError.TooManyKeys => (503, null, "the key table is full (Quota:KeysMax)"),
        SpecError.TooManyUsers => (503, null, "the user table is full (Quota:UsersMax)"),
        SpecError.UserQuotaInvalid => (400, "quota", $"must keep the balance from 0 to {EngineLimits.BalanceMaxUnits} (and above what in-flight requests hold)"),
        SpecError.PolicyNotFound => (404, "policy_id", "no enabled quota policy there"),
        SpecError.LogFull => (503, null, "the delta log cannot take the change right now; retry"),
        SpecError.PolicyRestartedTooOften => (409, "quota_policies", "was restarted too often while requests are in flight; retry when they finish"),
        SpecError.PolicyMetricInvalid => (400, "metric", $"must be one of {PolicyNames.List(PolicyNames.Metrics)}"),
        SpecError.IdTaken => (409, "id", "is already taken (an id the cluster store gave twice: the node's data directory belongs to another cluster?)"),
        SpecError.PolicyEnforcementInvalid => (400, "mode", $"must be one of {PolicyNames.List(PolicyNames.Enforcements)} (shadow only on a single node, not in cluster mode)"),
        SpecError.PolicyModelsInvalid => (400, "models", $"must be at most {EngineLimits.ModelsPerPolicyMax} model ids or prefix* patterns of 1 to {EngineLimits.ModelNameLengthMax} characters, '*' only at the end"),
        _ => throw new ArgumentOutOfRangeException(nameof(error), error, "None is not an error"),
    };

    /// <summary>True for the errors about one policy (their field is relative to it).</summary>
    public static bool IsPolicyField(SpecError error) =>
        error is (>= SpecError.PolicyQuotaInvalid and <= SpecError.PolicyTimeZoneInvalid) or SpecError.PolicyMetricInvalid or SpecError.PolicyModelsInvalid or SpecError.PolicyEnforcementInvalid;
}
