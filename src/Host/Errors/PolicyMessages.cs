using System.Globalization;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Errors;

/// <summary>
/// The localized <c>token_quota_policy_exhausted</c> messages, in every language of <see cref="Languages"/> (by
/// Accept-Language). They name the kind of limit that refused — the periodic quota, a request rate limit, a token
/// limit, each "for model X" when the policy is scoped to models — and the recovery time in ISO 8601 with the policy's
/// UTC offset, and never disclose used or quota amounts (docs/api.md "Errors (relay and quota API)"). An unscoped spend
/// policy's messages read as they always did.
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
        string Scoped,                 // {0} = the limit's noun, {1} = the model, {2} = a space when the noun starts with a Latin letter (CJK)
        Dictionary<PolicyMetric, string> Limits,
        Dictionary<PolicyMetric, string> Needs, // what the request needs, for sentences that name it apart from the limit (CJK)
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
        ["fr"] = new(
            "Le quota périodique de la clé API est épuisé",
            "le quota périodique",
            "La clé API a atteint {0}",
            "{0} pour le modèle {1}",
            new() { [PolicyMetric.Quota] = "le quota", [PolicyMetric.Tokens] = "la limite de tokens", [PolicyMetric.Requests] = "la limite de débit des requêtes" },
            new() { [PolicyMetric.Quota] = "", [PolicyMetric.Tokens] = "", [PolicyMetric.Requests] = "" },
            "Cette requête demande plus que ce qui reste sur {0} de la clé API pour cette période ; rétablissement vers {3}",
            new()
            {
                [Variant.RecoversAround] = " ; rétablissement automatique prévu vers {0}",
                [Variant.ManualReset] = ". Une réinitialisation manuelle est nécessaire avant de pouvoir l'utiliser à nouveau",
                [Variant.RecoveryPending] = ". L'heure de rétablissement est passée ; en attente du rétablissement ou d'une réinitialisation manuelle",
            }),
        ["ja"] = new(
            "API キーの期間クォータを使い切りました",
            "期間クォータ",
            "API キーの{0}に達しました",
            "モデル {1} の{2}{0}",
            new() { [PolicyMetric.Quota] = "クォータ上限", [PolicyMetric.Tokens] = "トークン上限", [PolicyMetric.Requests] = "リクエストレート上限" },
            new() { [PolicyMetric.Quota] = "クォータ", [PolicyMetric.Tokens] = "トークン数", [PolicyMetric.Requests] = "リクエスト数" },
            "このリクエストに必要な{1}が、API キーの{2}今期間の残り{1}を超えています。{3} 頃に回復する見込みです",
            new()
            {
                [Variant.RecoversAround] = "。{0} 頃に自動的に回復する見込みです",
                [Variant.ManualReset] = "。再び使用するには手動リセットが必要です",
                [Variant.RecoveryPending] = "。回復時刻を過ぎており、回復または手動リセットを待っています",
            }),
        ["ru"] = new(
            "Периодическая квота API-ключа исчерпана",
            "периодическая квота",
            "Для API-ключа достигнуто ограничение: {0}",
            "{0} для модели {1}",
            new() { [PolicyMetric.Quota] = "квота", [PolicyMetric.Tokens] = "лимит токенов", [PolicyMetric.Requests] = "лимит частоты запросов" },
            new() { [PolicyMetric.Quota] = "", [PolicyMetric.Tokens] = "", [PolicyMetric.Requests] = "" },
            "Запросу нужно больше, чем осталось в этом периоде (API-ключ, {0}); восстановление около {3}",
            new()
            {
                [Variant.RecoversAround] = "; автоматическое восстановление ожидается около {0}",
                [Variant.ManualReset] = ". Чтобы снова пользоваться ключом, нужен ручной сброс",
                [Variant.RecoveryPending] = ". Время восстановления наступило; ожидается восстановление или ручной сброс",
            }),
        ["vi"] = new(
            "Hạn mức định kỳ của khóa API đã hết",
            "hạn mức định kỳ",
            "Khóa API đã đạt {0}",
            "{0} cho mô hình {1}",
            new() { [PolicyMetric.Quota] = "hạn mức", [PolicyMetric.Tokens] = "giới hạn token", [PolicyMetric.Requests] = "giới hạn tần suất yêu cầu" },
            new() { [PolicyMetric.Quota] = "", [PolicyMetric.Tokens] = "", [PolicyMetric.Requests] = "" },
            "Yêu cầu này cần nhiều hơn phần còn lại của {0} của khóa API trong kỳ này; sẽ khôi phục vào khoảng {3}",
            new()
            {
                [Variant.RecoversAround] = " và dự kiến tự động khôi phục vào khoảng {0}",
                [Variant.ManualReset] = ". Cần đặt lại thủ công trước khi có thể dùng lại",
                [Variant.RecoveryPending] = ". Đã đến thời điểm khôi phục, đang chờ khôi phục hoặc đặt lại thủ công",
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
        LanguageTexts texts = Texts[Languages.FromAcceptLanguage(acceptLanguage)];
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

    /// <summary>An instant as ISO 8601 with the offset of the policy's time zone, e.g. 2026-11-29T09:00:00+01:00.</summary>
    public static string Iso8601(long unixMs, string timeZone)
    {
        var instant = DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
        DateTimeOffset local = TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out TimeZoneInfo? zone) ? TimeZoneInfo.ConvertTime(instant, zone) : instant;
        return local.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
    }
}
