using System.Globalization;
using Quota.Engine.Model;

namespace Quota.Host.Errors;

/// <summary>
/// The localized <c>token_quota_policy_exhausted</c> messages (en, zh-CN, zh-TW by Accept-Language). They name the
/// recovery time in ISO 8601 with the policy's UTC offset and never disclose used or quota amounts (docs/api.md "Errors (relay and quota API)").
/// </summary>
public static class PolicyMessages
{
    private enum Variant
    {
        RecoversAround,
        ManualReset,
        RecoveryPending,
        DoesNotFit,
    }

    private static readonly Dictionary<string, Dictionary<Variant, string>> Texts = new(StringComparer.Ordinal)
    {
        ["en"] = new()
        {
            [Variant.RecoversAround] = "API key periodic quota is exhausted and is expected to automatically recover around {0}",
            [Variant.ManualReset] = "API key periodic quota is exhausted. Manual reset is required before it can be used again",
            [Variant.RecoveryPending] = "API key periodic quota is exhausted. The recovery time has arrived and it is waiting for recovery or manual reset",
            [Variant.DoesNotFit] = "This request needs more than the API key's periodic quota has left in this period; it recovers around {0}",
        },
        ["zh-CN"] = new()
        {
            [Variant.RecoversAround] = "API key 周期额度已耗尽，预计将在约 {0} 自动恢复",
            [Variant.ManualReset] = "API key 周期额度已耗尽，需要手动重置后才能继续使用",
            [Variant.RecoveryPending] = "API key 周期额度已耗尽，已到恢复时间，正在等待恢复或手动重置",
            [Variant.DoesNotFit] = "本次请求所需额度超过 API key 本周期剩余额度，预计将在约 {0} 恢复",
        },
        ["zh-TW"] = new()
        {
            [Variant.RecoversAround] = "API key 週期額度已耗盡，預計將在約 {0} 自動恢復",
            [Variant.ManualReset] = "API key 週期額度已耗盡，需要手動重置後才能繼續使用",
            [Variant.RecoveryPending] = "API key 週期額度已耗盡，已到恢復時間，正在等待恢復或手動重置",
            [Variant.DoesNotFit] = "本次請求所需額度超過 API key 本週期剩餘額度，預計將在約 {0} 恢復",
        },
    };

    /// <summary>The message for a refusal by <paramref name="policy"/>, and whether it recovers by itself.</summary>
    public static (string Message, bool RecoversByItself) For(ReserveResult result, PolicyView policy, long nowMs, string? acceptLanguage)
    {
        Dictionary<Variant, string> texts = Texts[Language(acceptLanguage)];
        string resetAt = Iso8601(policy.PeriodEndMs, policy.Spec.TimeZone);
        if (result == ReserveResult.PolicyEstimateTooLarge)
        {
            return (string.Format(CultureInfo.InvariantCulture, texts[Variant.DoesNotFit], resetAt), true);
        }

        if (policy.PausesKey && !policy.Spec.AutoResume)
        {
            return (texts[Variant.ManualReset], false);
        }

        return policy.PeriodEndMs > nowMs
            ? (string.Format(CultureInfo.InvariantCulture, texts[Variant.RecoversAround], resetAt), true)
            : (texts[Variant.RecoveryPending], true);
    }

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
