using System.Globalization;
using NodaTime;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Windows;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The key form as posted (every value a string, so that anything a browser sends binds and is judged here, naming
/// the field). Booleans default to false because an unchecked box is not posted; <see cref="ForNewKey"/> sets the
/// defaults a new key starts with.
/// </summary>
public sealed class KeyFormModel
{
    public string? Name { get; set; }
    public string? UserId { get; set; }
    public string? RemainQuota { get; set; }
    public bool Unlimited { get; set; }
    public string? ExpiresAt { get; set; }
    public List<PolicyFormModel> Policies { get; set; } = [];
    /// <summary>The version of the key the form was rendered from (docs/api.md "Versions"): a save made on an older one is refused.</summary>
    public string? Version { get; set; }
    /// <summary>The budget left the form was rendered with: the budget is saved only when the operator changed it.</summary>
    public string? RemainShown { get; set; }
    /// <summary>Which submit button was pressed: <c>simulate</c> replays the key's log under the form's policies and saves nothing.</summary>
    public string? Intent { get; set; }

    public static KeyFormModel ForNewKey(string zone, int? userId) => new()
    {
        UserId = userId?.ToString(CultureInfo.InvariantCulture),
        RemainQuota = "1000000",
        Policies = [.. Enumerable.Range(0, EngineLimits.PoliciesPerKeyMax).Select(_ => PolicyFormModel.Blank(zone))],
    };

    internal static KeyFormModel ForKey(KeyRow key, DateTimeZone operatorZone)
    {
        var model = new KeyFormModel
        {
            Name = key.Label.Name,
            UserId = key.View.UserId.ToString(CultureInfo.InvariantCulture),
            RemainQuota = key.View.RemainQuotaUnits.ToString(CultureInfo.InvariantCulture),
            RemainShown = key.View.RemainQuotaUnits.ToString(CultureInfo.InvariantCulture),
            Version = key.Version,
            Unlimited = key.View.UnlimitedQuota,
            ExpiresAt = key.View.ExpiresAtMs == -1 ? null : OperatorClock.ToInput(key.View.ExpiresAtMs, operatorZone),
        };
        for (int i = 0; i < EngineLimits.PoliciesPerKeyMax; i++)
        {
            PolicyView? stored = key.View.Policies.FirstOrDefault(p => p.Index == i);
            model.Policies.Add(stored is null ? PolicyFormModel.Blank(operatorZone.Id) : PolicyFormModel.From(stored.Spec));
        }

        return model;
    }
}

public sealed class PolicyFormModel
{
    public bool Enabled { get; set; }
    public string? PeriodMode { get; set; }
    public string? CustomMinutes { get; set; }
    public string? Quota { get; set; }
    public string? Anchor { get; set; }
    public string? TimeZone { get; set; }
    public string? ExhaustedAction { get; set; }
    public string? BoundaryMode { get; set; }
    public bool AutoResume { get; set; }
    public string? Metric { get; set; }
    /// <summary>Model ids or prefix* patterns, separated by commas or spaces; empty = every model.</summary>
    public string? Models { get; set; }
    /// <summary>Enforce or Shadow (<see cref="PolicyEnforcement"/>).</summary>
    public string? Enforcement { get; set; }

    public static PolicyFormModel Blank(string zone) => new()
    {
        PeriodMode = nameof(Engine.Model.PeriodMode.Daily),
        TimeZone = zone,
        ExhaustedAction = nameof(Engine.Model.ExhaustedAction.RejectOnly),
        BoundaryMode = nameof(Engine.Model.BoundaryMode.Graceful),
        AutoResume = true,
        Metric = nameof(PolicyMetric.Quota),
        Enforcement = nameof(PolicyEnforcement.Enforce),
    };

    public static PolicyFormModel From(QuotaPolicySpec spec) => new()
    {
        Enabled = spec.Enabled,
        PeriodMode = spec.Mode.ToString(),
        CustomMinutes = spec.Mode == Engine.Model.PeriodMode.Custom ? spec.CustomMinutes.ToString(CultureInfo.InvariantCulture) : null,
        Quota = spec.QuotaUnits.ToString(CultureInfo.InvariantCulture),
        Anchor = OperatorClock.ToInput(spec.AnchorMs, WindowRule.TryFindZone(spec.TimeZone) ?? DateTimeZone.Utc),
        TimeZone = spec.TimeZone,
        ExhaustedAction = spec.ExhaustedAction.ToString(),
        BoundaryMode = spec.BoundaryMode.ToString(),
        AutoResume = spec.AutoResume,
        Metric = spec.Metric.ToString(),
        Models = string.Join(", ", spec.Models),
        Enforcement = spec.Enforcement.ToString(),
    };
}

/// <summary>Field errors of the key form, keyed like the inputs ("remain_quota", "policies[1].time_zone").</summary>
public sealed class FormErrors
{
    private readonly Dictionary<string, string> errors = new(StringComparer.Ordinal);

    public bool Any => errors.Count > 0;

    public void Add(string field, string message) => errors.TryAdd(field, message);

    public string? this[string field] => errors.TryGetValue(field, out string? message) ? message : null;

    public IEnumerable<KeyValuePair<string, string>> All => errors;
}

/// <summary>
/// Turns the posted form into the engine's spec types. Only what a string cannot say by itself is checked here
/// (not a number, not a date, an unknown choice); every rule about values is the engine's own validation
/// (<see cref="SpecValidation"/>), whose error and policy index <see cref="SpecErrorFields"/> maps back to a field.
/// </summary>
public static class KeyFormParser
{
    public static (TokenSpec? Spec, FormErrors Errors) ToSpec(KeyFormModel form, DateTimeZone operatorZone, long nowMs, int lastStoredPolicy = -1)
    {
        var errors = new FormErrors();
        if (Admin.LabelNames.Problem(form.Name?.Trim()) is not null)
        {
            errors.Add("name", T.Get("Error_Name"));
        }

        int userId = (int)Math.Clamp(Number(form.UserId, "user_id", errors) ?? 0, 0, int.MaxValue);
        if (string.IsNullOrWhiteSpace(form.UserId))
        {
            errors.Add("user_id", T.Get("Error_Required"));
        }

        long remain = Number(form.RemainQuota, "remain_quota", errors) ?? 0;
        long expires = -1;
        if (!string.IsNullOrWhiteSpace(form.ExpiresAt))
        {
            expires = OperatorClock.FromInput(form.ExpiresAt, operatorZone) ?? Fail(errors, "expired_time", T.Get("Error_NotADate"));
        }

        List<QuotaPolicySpec> policies = Policies(form, nowMs, lastStoredPolicy, errors);
        return errors.Any ? (null, errors) : (new TokenSpec
        {
            UserId = userId,
            RemainQuotaUnits = remain,
            UnlimitedQuota = form.Unlimited,
            ExpiresAtMs = expires,
            Policies = policies,
        }, errors);
    }

    /// <summary>Positions up to the last enabled one (or the last stored one, so that an edit can switch it off in place).</summary>
    private static List<QuotaPolicySpec> Policies(KeyFormModel form, long nowMs, int lastStoredPolicy, FormErrors errors)
    {
        int last = lastStoredPolicy;
        for (int i = 0; i < form.Policies.Count && i < EngineLimits.PoliciesPerKeyMax; i++)
        {
            last = form.Policies[i].Enabled ? Math.Max(last, i) : last;
        }

        var specs = new List<QuotaPolicySpec>();
        for (int i = 0; i <= last && i < form.Policies.Count; i++)
        {
            specs.Add(Policy(form.Policies[i], $"policies[{i}].", nowMs, errors));
        }

        return specs;
    }

    private static QuotaPolicySpec Policy(PolicyFormModel p, string prefix, long nowMs, FormErrors errors)
    {
        PeriodMode mode = Choice<PeriodMode>(p.PeriodMode, prefix + "period_mode", errors);
        string zone = string.IsNullOrWhiteSpace(p.TimeZone) ? "UTC" : p.TimeZone.Trim();
        long anchor = nowMs; // an empty anchor means "now" (decided when saved)
        if (!string.IsNullOrWhiteSpace(p.Anchor))
        {
            // the anchor is a local time in the policy's own zone (its calendar windows start at that local time)
            anchor = OperatorClock.FromInput(p.Anchor, WindowRule.TryFindZone(zone) ?? DateTimeZone.Utc) ?? Fail(errors, prefix + "anchor_time", T.Get("Error_NotADate"));
        }

        return new QuotaPolicySpec
        {
            Enabled = p.Enabled,
            Mode = mode,
            CustomMinutes = mode == PeriodMode.Custom ? (int)Math.Clamp(Number(p.CustomMinutes, prefix + "custom_minutes", errors) ?? 0, 0, int.MaxValue) : 0,
            QuotaUnits = Number(p.Quota, prefix + "quota", errors) ?? 0,
            AnchorMs = anchor,
            TimeZone = zone,
            ExhaustedAction = Choice<ExhaustedAction>(p.ExhaustedAction, prefix + "exhausted_action", errors),
            BoundaryMode = Choice<BoundaryMode>(p.BoundaryMode, prefix + "boundary_mode", errors),
            AutoResume = p.AutoResume,
            Metric = Choice<PolicyMetric>(p.Metric ?? nameof(PolicyMetric.Quota), prefix + "metric", errors),
            Enforcement = Choice<PolicyEnforcement>(p.Enforcement ?? nameof(PolicyEnforcement.Enforce), prefix + "mode", errors),
            Models = (p.Models ?? "").Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
    }

    /// <summary>An integer as the operator typed it (group separators of the UI culture allowed); empty is null.</summary>
    private static long? Number(string? text, string field, FormErrors errors)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowThousands, CultureInfo.CurrentCulture, out long value))
        {
            return value;
        }

        errors.Add(field, T.Get("Error_NotANumber"));
        return null;
    }

    private static TEnum Choice<TEnum>(string? text, string field, FormErrors errors)
        where TEnum : struct, Enum
    {
        if (Enum.TryParse(text, ignoreCase: false, out TEnum value) && Enum.IsDefined(value) && !char.IsDigit(text![0]))
        {
            return value;
        }

        errors.Add(field, T.Get("Error_UnknownChoice"));
        return default;
    }

    private static long Fail(FormErrors errors, string field, string message)
    {
        errors.Add(field, message);
        return 0;
    }
}

/// <summary>Maps the engine's validation result to the form field it names, with the message in the reader's language.</summary>
public static class SpecErrorFields
{
    public static void Add(FormErrors errors, SpecError error, int policyIndex)
    {
        string prefix = policyIndex >= 0 ? $"policies[{policyIndex}]." : "";
        string field = error switch
        {
            SpecError.UserNotFound => "user_id",
            SpecError.RemainQuotaInvalid => "remain_quota",
            SpecError.ExpiresAtInvalid => "expired_time",
            SpecError.PolicyQuotaInvalid => prefix + "quota",
            SpecError.PolicyAnchorInvalid => prefix + "anchor_time",
            SpecError.PolicyPeriodModeInvalid => prefix + "period_mode",
            SpecError.PolicyCustomMinutesInvalid => prefix + "custom_minutes",
            SpecError.PolicyExhaustedActionInvalid => prefix + "exhausted_action",
            SpecError.PolicyBoundaryModeInvalid => prefix + "boundary_mode",
            SpecError.PolicyTimeZoneInvalid => prefix + "time_zone",
            SpecError.PolicyMetricInvalid => prefix + "metric",
            SpecError.PolicyModelsInvalid => prefix + "models",
            SpecError.PolicyEnforcementInvalid => prefix + "mode",
            _ => "form",
        };
        errors.Add(field, T.Get("SpecError_" + error));
    }
}
