using Quota.Engine.Model;

namespace Quota.Host.Admin;

/// <summary>
/// The wire names of the policy enums, each written once and read both ways. A name not in a table parses
/// to a value the engine does not define, so the engine's validation — the one source — refuses it and names the field.
/// </summary>
public static class PolicyNames
{
    public static readonly IReadOnlyList<(PeriodMode Value, string Name)> Modes =
        [(PeriodMode.Preset5h, "preset_5h"), (PeriodMode.Daily, "daily"), (PeriodMode.Weekly, "weekly"), (PeriodMode.Monthly, "monthly"), (PeriodMode.Custom, "custom")];

    public static readonly IReadOnlyList<(ExhaustedAction Value, string Name)> ExhaustedActions =
        [(ExhaustedAction.RejectOnly, "reject_only"), (ExhaustedAction.DisableToken, "disable_token")];

    public static readonly IReadOnlyList<(PolicyMetric Value, string Name)> Metrics =
        [(PolicyMetric.Quota, "quota"), (PolicyMetric.Tokens, "tokens"), (PolicyMetric.Requests, "requests")];

    public static readonly IReadOnlyList<(PolicyEnforcement Value, string Name)> Enforcements =
        [(PolicyEnforcement.Enforce, "enforce"), (PolicyEnforcement.Shadow, "shadow")];

    /// <summary>The OpenAPI description of a policy's <c>mode</c> field.</summary>
    public const string EnforcementDescription =
        "enforce (the default) refuses what the policy does not admit; shadow refuses nothing and never pauses the key, " +
        "but counts the requests it would have refused (shadow_refusals) with its window's usage tracked as if it enforced.";

    /// <summary>
    /// Whether a key holder sees the policy as a limit (rate-limit headers, /v1/me): enabled and enforcing. A shadow
    /// policy limits nothing, so it must not make a client slow down.
    /// </summary>
    public static bool Limits(QuotaPolicySpec spec) => spec.Enabled && spec.Enforcement == PolicyEnforcement.Enforce;

    /// <summary>The OpenAPI description of a policy's <c>metric</c> field.</summary>
    public const string MetricDescription =
        "What the policy counts: quota (quota units, the default), tokens (prompt + completion tokens) or requests (one per request). " +
        "quota, used_quota, reserved_quota and remaining are in this metric.";

    /// <summary>The OpenAPI description of a policy's <c>models</c> field.</summary>
    public const string ModelsDescription =
        "The models the policy applies to: exact model ids or prefix* patterns (a * only at the end). Empty or absent: every model.";

    public static readonly IReadOnlyList<(BoundaryMode Value, string Name)> BoundaryModes =
        [(BoundaryMode.Graceful, "graceful_boundary"), (BoundaryMode.Strict, "strict_pre_check")];

    /// <summary>The value named <paramref name="name"/>; <paramref name="absent"/> for null; an undefined value for an unknown name.</summary>
    public static T Parse<T>(IReadOnlyList<(T Value, string Name)> table, string? name, T absent)
        where T : struct, Enum
    {
        if (name is null)
        {
            return absent;
        }

        foreach ((T value, string known) in table)
        {
            if (known == name)
            {
                return value;
            }
        }

        return (T)Enum.ToObject(typeof(T), byte.MaxValue); // not defined: the engine refuses it
    }

    /// <summary>The wire name of <paramref name="value"/>; every defined value has one (a missing row is a bug, not a default).</summary>
    public static string NameOf<T>(IReadOnlyList<(T Value, string Name)> table, T value)
        where T : struct, Enum
    {
        foreach ((T known, string name) in table)
        {
            if (EqualityComparer<T>.Default.Equals(known, value))
            {
                return name;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(value), value, "no wire name");
    }

    public static string List<T>(IReadOnlyList<(T Value, string Name)> table) => string.Join(", ", table.Select(row => row.Name));
}
