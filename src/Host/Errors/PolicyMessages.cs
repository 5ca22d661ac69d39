using System.Globalization;
using Quota.Engine.Model;

namespace Quota.Host.Errors;

/// <summary>
/// The localized <c>token_quota_policy_exhausted</c> messages (en, zh-CN, zh-TW by Accept-Language). They name the kind
/// of limit that refused — the periodic quota, a request rate limit, a token limit, each "for model X" when the policy
/// is scoped to models — and the recovery time in ISO 8601 with the policy's UTC offset, and never disclose used or
/// quota amounts (docs/api.md "Errors (relay and quota API)"). An unscoped spend policy's messages read as they always did.
/// </summary>
public static class PolicyMessages
{
    private enum Variant
    {
        RecoversAround,
        ManualReset,
        RecoveryPending,
    }

    /// <summary>One language's sentences, built from the kind of limit (<see cref="Limit"/>) and the variant.</summary>
    private sealed record LanguageTexts(
        string PeriodicQuotaExhausted, // an unscoped spend policy, as the seed words it
        string PeriodicQuota,          // an unscoped spend policy's noun
        string LimitReached,           // {0} = the limit's noun phrase
        string Scoped,                 // {0} = the limit's noun, {1} = the model, {2} = a space when the noun starts with a Latin letter
        Dictionary<PolicyMetric, string> Limits,
        Dictionary<PolicyMetric, string> Needs,
        string DoesNotFit,             // {0} = the limit's noun phrase, {1} = what the request needs, {2} = scope prefix, {3} = time
        Dictionary<Variant, string> Tails) // {0} = time
    {
        public string Limit(PolicyMetric metric, string? model) =>
            model is null ? (metric == PolicyMetric.Quota ? PeriodicQuota : Limits[metric])
            : string.Format(CultureInfo.InvariantCulture, Scoped, Limits[metric], model, char.IsAsciiLetter(Limits[metric][0]) ? " " : "");

        public string Headline(PolicyMetric metric, string? model) =>
            metric == PolicyMetric.Quota && model is null ? PeriodicQuotaExhausted : string.Format(CultureInfo.InvariantCulture, LimitReached, Limit(metric, model));
    }

    private static readonly Dictionary<string, LanguageTexts> Texts = new(StringComparer.Ordinal)
    {
        ["en"] = new(
            "API key periodic quota is exhausted",
            "periodic quota",
            "API key {0} reached",
            "{0} for model {1}",
            new() { [PolicyMetric.Quota] = "quota", [PolicyMetric.Tokens] = "token limit", [PolicyMetric.Requests] = "request rate limit" },
            new() { [PolicyMetric.Quota] = "", [PolicyMetric.Tokens] = "", [PolicyMetric.Requests] = "" },
            "This request needs more than the API key's {0} has left in this period; it recovers around {3}",
            new()
            {
                [Variant.RecoversAround] = " and is expected to automatically recover around {0}",
                [Variant.ManualReset] = ". Manual reset is required before it can be used again",
                [Variant.RecoveryPending] = ". The recovery time has arrived and it is waiting for recovery or manual reset",
            }),
        ["zh-CN"] = new(
            "API key 周期额度已耗尽",
            "周期额度",
            "API key {0}已达上限",
            "模型 {1} 的{2}{0}",
            new() { [PolicyMetric.Quota] = "额度", [PolicyMetric.Tokens] = "Token 用量", [PolicyMetric.Requests] = "请求频率" },
            new() { [PolicyMetric.Quota] = "额度", [PolicyMetric.Tokens] = " Token 数", [PolicyMetric.Requests] = "请求数" },
            "本次请求所需{1}超过 API key {2}本周期剩余{1}，预计将在约 {3} 恢复",
            new()
            {
                [Variant.RecoversAround] = "，预计将在约 {0} 自动恢复",
                [Variant.ManualReset] = "，需要手动重置后才能继续使用",
                [Variant.RecoveryPending] = "，已到恢复时间，正在等待恢复或手动重置",
            }),
        ["zh-TW"] = new(
            "API key 週期額度已耗盡",
            "週期額度",
            "API key {0}已達上限",
            "模型 {1} 的{2}{0}",
            new() { [PolicyMetric.Quota] = "額度", [PolicyMetric.Tokens] = "Token 用量", [PolicyMetric.Requests] = "請求頻率" },
            new() { [PolicyMetric.Quota] = "額度", [PolicyMetric.Tokens] = " Token 數", [PolicyMetric.Requests] = "請求數" },
            "本次請求所需{1}超過 API key {2}本週期剩餘{1}，預計將在約 {3} 恢復",
            new()
            {
                [Variant.RecoversAround] = "，預計將在約 {0} 自動恢復",
                [Variant.ManualReset] = "，需要手動重置後才能繼續使用",
                [Variant.RecoveryPending] = "，已到恢復時間，正在等待恢復或手動重置",
            }),
    };

    /// <summary>
    /// The message for a refusal by <paramref name="policy"/> of a request for <paramref name="model"/>, and whether it
    /// recovers by itself. A scoped policy names the request's model when it applies to it; a key paused by a scoped
    /// policy refuses every model, and then the message names the policy's own models.
    /// </summary>
    public static (string Message, bool RecoversByItself) For(ReserveResult result, PolicyView policy, long nowMs, string? acceptLanguage, string? model = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        LanguageTexts texts = Texts[Language(acceptLanguage)];
        string? scope = ScopeOf(policy.Spec, model);
        PolicyMetric metric = policy.Spec.Metric;
        string resetAt = Iso8601(policy.PeriodEndMs, policy.Spec.TimeZone);
        if (result == ReserveResult.PolicyEstimateTooLarge)
        {
            string limit = texts.Limit(metric, scope);
            string prefix = scope is null ? "" : string.Format(CultureInfo.InvariantCulture, texts.Scoped, "", scope, "");
            return (string.Format(CultureInfo.InvariantCulture, texts.DoesNotFit, limit, texts.Needs[metric], prefix, resetAt), true);
        }

        string headline = texts.Headline(metric, scope);
        if (policy.PausesKey && !policy.Spec.AutoResume)
        {
            return (headline + texts.Tails[Variant.ManualReset], false);
        }

        return policy.PeriodEndMs > nowMs
            ? (headline + string.Format(CultureInfo.InvariantCulture, texts.Tails[Variant.RecoversAround], resetAt), true)
            : (headline + texts.Tails[Variant.RecoveryPending], true);
    }

    /// <summary>The model a scoped policy's message names (null for an unscoped policy).</summary>
    private static string? ScopeOf(QuotaPolicySpec spec, string? model) =>
        spec.Models.Count == 0 || spec.Models.Contains("*") ? null
        : model is not null && spec.AppliesTo(model) ? model
        : string.Join(", ", spec.Models);

    /// <summary>en by default; zh-CN / zh-TW (and zh-Hans / zh-Hant, zh-HK) when asked for first.</summary>
    public static string Language(string? acceptLanguage)
    {
        foreach (string part in (acceptLanguage ?? "").Split(','))
        {
            string tag = part.Split(';')[0].Trim();
            if (tag.StartsWith("zh", StringComparison.OrdinalIgnoreCase))
            {
                return tag.Contains("TW", StringComparison.OrdinalIgnoreCase) || tag.Contains("HK", StringComparison.OrdinalIgnoreCase) || tag.Contains("Hant", StringComparison.OrdinalIgnoreCase)
                    ? "zh-TW"
                    : "zh-CN";
            }

            if (tag.StartsWith("en", StringComparison.OrdinalIgnoreCase))
            {
                return "en";
            }
        }

        return "en";
    }

    /// <summary>An instant as ISO 8601 with the offset of the policy's time zone, e.g. 2026-11-29T09:00:00+01:00.</summary>
    public static string Iso8601(long unixMs, string timeZone)
    {
        var instant = DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
        DateTimeOffset local = TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out TimeZoneInfo? zone) ? TimeZoneInfo.ConvertTime(instant, zone) : instant;
        return local.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
    }
}
