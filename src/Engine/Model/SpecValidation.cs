using Quota.Engine.Windows;

namespace Quota.Engine.Model;

/// <summary>
/// Checks a token spec before anything changes — the one place that knows every bound (the host parses into the
/// spec types and reports the field this names). Every field of every policy is checked, enabled or not, so a
/// disabled policy can be re-enabled later without surprises.
/// </summary>
public static class SpecValidation
{
    /// <summary>
    /// The first error in a key's spec, with the index of the policy it is about (-1: a key field). Pure: no engine
    /// needed, so a form can be checked before it is submitted; CreateToken runs the same check.
    /// </summary>
    public static (SpecError Error, int PolicyIndex) Validate(TokenSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Validate(spec.Status, spec.RemainQuotaUnits, spec.ExpiresAtMs, spec.Policies);
    }

    /// <summary>The first error in the fields an update sets (null fields are not checked); UpdateToken runs the same check.</summary>
    public static (SpecError Error, int PolicyIndex) Validate(TokenUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return Validate(update.Status, update.RemainQuotaUnits, update.ExpiresAtMs, update.Policies);
    }

    private static (SpecError Error, int PolicyIndex) Validate(
        TokenStatus? status, long? remainQuotaUnits, long? expiresAtMs, IReadOnlyList<QuotaPolicySpec>? policies)
    {
        if (status is { } s && s is not (TokenStatus.Enabled or TokenStatus.Disabled))
        {
            return (SpecError.StatusInvalid, -1);
        }

        if (remainQuotaUnits is < 0 or > EngineLimits.BalanceMaxUnits)
        {
            return (SpecError.RemainQuotaInvalid, -1);
        }

        if (expiresAtMs is { } expires && expires != -1 && expires is <= 0 or > EngineLimits.TimeMaxMs)
        {
            return (SpecError.ExpiresAtInvalid, -1);
        }

        if (policies is null)
        {
            return (SpecError.None, -1);
        }

        if (policies.Count > EngineLimits.PoliciesPerKeyMax)
        {
            return (SpecError.TooManyPolicies, -1);
        }

        for (int i = 0; i < policies.Count; i++)
        {
            SpecError error = ValidatePolicy(policies[i]);
            if (error != SpecError.None)
            {
                return (error, i);
            }
        }

        return (SpecError.None, -1);
    }

    /// <summary>The first error in one policy, checked in field order; <see cref="SpecError.None"/> when it is valid.</summary>
    public static SpecError ValidatePolicy(QuotaPolicySpec policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.Enabled && policy.QuotaUnits is <= 0 or > EngineLimits.PolicyQuotaMaxUnits)
        {
            return SpecError.PolicyQuotaInvalid;
        }

        if (!policy.Enabled && policy.QuotaUnits is < 0 or > EngineLimits.PolicyQuotaMaxUnits)
        {
            return SpecError.PolicyQuotaInvalid;
        }

        if (policy.AnchorMs is < WindowRule.AnchorMinMs or > WindowRule.AnchorMaxMs)
        {
            return SpecError.PolicyAnchorInvalid;
        }

        if (!Enum.IsDefined(policy.Mode))
        {
            return SpecError.PolicyPeriodModeInvalid;
        }

        if (!Enum.IsDefined(policy.Metric))
        {
            return SpecError.PolicyMetricInvalid;
        }

        int minutesMin = policy.Metric == PolicyMetric.Quota ? WindowRule.CustomMinutesMin : WindowRule.RateCustomMinutesMin;
        if (policy.Mode == PeriodMode.Custom && (policy.CustomMinutes < minutesMin || policy.CustomMinutes > WindowRule.CustomMinutesMax))
        {
            return SpecError.PolicyCustomMinutesInvalid;
        }

        if (!Enum.IsDefined(policy.ExhaustedAction))
        {
            return SpecError.PolicyExhaustedActionInvalid;
        }

        if (!Enum.IsDefined(policy.BoundaryMode))
        {
            return SpecError.PolicyBoundaryModeInvalid;
        }

        if (!Enum.IsDefined(policy.Enforcement))
        {
            return SpecError.PolicyEnforcementInvalid;
        }

        if (!ModelsValid(policy.Models))
        {
            return SpecError.PolicyModelsInvalid;
        }

        return WindowRule.TryFindZone(policy.TimeZone) is null ? SpecError.PolicyTimeZoneInvalid : SpecError.None;
    }

    /// <summary>Model ids or <c>prefix*</c> patterns: non-empty, bounded, '*' only at the end (a lone '*' is every model).</summary>
    private static bool ModelsValid(IReadOnlyList<string>? models)
    {
        if (models is null || models.Count > EngineLimits.ModelsPerPolicyMax)
        {
            return false;
        }

        foreach (string? model in models)
        {
            if (string.IsNullOrWhiteSpace(model) || model.Length > EngineLimits.ModelNameLengthMax || model.IndexOf('*') is >= 0 and var star && star != model.Length - 1)
            {
                return false;
            }
        }

        return true;
    }
}
