using System.Text.RegularExpressions;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Tests;

/// <summary>
/// The 429 messages for every kind of limit, language and variant (src/Host/Errors/PolicyMessages.cs), the policy names
/// of the RateLimit headers and OpenAI's reset durations (src/Host/Errors/RateLimitHeaders.cs).
/// </summary>
public sealed partial class PolicyMessagesTests
{
    private const long Now = 1_782_532_500_000; // 2026-06-27T03:55:00Z
    private const long End = Now + 60_000;

    private static PolicyView View(PolicyMetric metric, string[] models, bool pausesKey = false, bool autoResume = true, long endMs = End, int index = 0, PeriodMode mode = PeriodMode.Custom, bool enabled = true) =>
        new(index, new QuotaPolicySpec { Mode = mode, CustomMinutes = 1, QuotaUnits = 987_654, Metric = metric, Models = models, AutoResume = autoResume, Enabled = enabled },
            987_000, 654, endMs - 60_000, endMs, Now, TokenStatus.None, pausesKey, false);

    public static TheoryData<string, PolicyMetric, string?, string> Headlines() => new()
    {
        { "en", PolicyMetric.Quota, null, "API key periodic quota is exhausted and is expected to automatically recover around 2026-06-27T03:56:00+00:00" },
        { "en", PolicyMetric.Requests, null, "API key request rate limit reached and is expected to automatically recover around 2026-06-27T03:56:00+00:00" },
        { "en", PolicyMetric.Tokens, null, "API key token limit reached and is expected to automatically recover around 2026-06-27T03:56:00+00:00" },
        { "en", PolicyMetric.Quota, "gpt-4*", "API key quota for model gpt-4o reached and is expected to automatically recover around 2026-06-27T03:56:00+00:00" },
        { "en", PolicyMetric.Requests, "gpt-4*", "API key request rate limit for model gpt-4o reached and is expected to automatically recover around 2026-06-27T03:56:00+00:00" },
        { "zh-CN", PolicyMetric.Quota, null, "API key 周期额度已耗尽，预计将在约 2026-06-27T03:56:00+00:00 自动恢复" },
        { "zh-CN", PolicyMetric.Requests, null, "API key 请求频率已达上限，预计将在约 2026-06-27T03:56:00+00:00 自动恢复" },
        { "zh-CN", PolicyMetric.Tokens, null, "API key Token 用量已达上限，预计将在约 2026-06-27T03:56:00+00:00 自动恢复" },
        { "zh-CN", PolicyMetric.Quota, "gpt-4*", "API key 模型 gpt-4o 的额度已达上限，预计将在约 2026-06-27T03:56:00+00:00 自动恢复" },
        { "zh-TW", PolicyMetric.Quota, null, "API key 週期額度已耗盡，預計將在約 2026-06-27T03:56:00+00:00 自動恢復" },
        { "zh-TW", PolicyMetric.Requests, null, "API key 請求頻率已達上限，預計將在約 2026-06-27T03:56:00+00:00 自動恢復" },
        { "zh-TW", PolicyMetric.Tokens, "gpt-4*", "API key 模型 gpt-4o 的 Token 用量已達上限，預計將在約 2026-06-27T03:56:00+00:00 自動恢復" },
        { "fr", PolicyMetric.Quota, null, "Le quota périodique de la clé API est épuisé ; rétablissement automatique prévu vers 2026-06-27T03:56:00+00:00" },
        { "fr", PolicyMetric.Requests, "gpt-4*", "La clé API a atteint la limite de débit des requêtes pour le modèle gpt-4o ; rétablissement automatique prévu vers 2026-06-27T03:56:00+00:00" },
        { "ja", PolicyMetric.Quota, null, "API キーの期間クォータを使い切りました。2026-06-27T03:56:00+00:00 頃に自動的に回復する見込みです" },
        { "ja", PolicyMetric.Tokens, "gpt-4*", "API キーのモデル gpt-4o のトークン上限に達しました。2026-06-27T03:56:00+00:00 頃に自動的に回復する見込みです" },
        { "ru", PolicyMetric.Quota, null, "Периодическая квота API-ключа исчерпана; автоматическое восстановление ожидается около 2026-06-27T03:56:00+00:00" },
        { "ru", PolicyMetric.Requests, "gpt-4*", "Для API-ключа достигнуто ограничение: лимит частоты запросов для модели gpt-4o; автоматическое восстановление ожидается около 2026-06-27T03:56:00+00:00" },
        { "vi", PolicyMetric.Quota, null, "Hạn mức định kỳ của khóa API đã hết và dự kiến tự động khôi phục vào khoảng 2026-06-27T03:56:00+00:00" },
        { "vi", PolicyMetric.Tokens, "gpt-4*", "Khóa API đã đạt giới hạn token cho mô hình gpt-4o và dự kiến tự động khôi phục vào khoảng 2026-06-27T03:56:00+00:00" },
    };

    [Theory]
    [MemberData(nameof(Headlines))]
    public void AnExhaustedPolicy_NamesItsKindOfLimit_AndTheRequestsModelWhenScoped(string language, PolicyMetric metric, string? scope, string expected)
    {
        (string message, bool recovers) = PolicyMessages.For(ReserveResult.PolicyExhausted, View(metric, scope is null ? [] : [scope]), Now, language, "gpt-4o");

        Assert.Equal(expected, message);
        Assert.True(recovers);
    }

    [Theory]
    [InlineData("en", PolicyMetric.Quota, "This request needs more than the API key's periodic quota has left in this period; it recovers around")]
    [InlineData("en", PolicyMetric.Tokens, "This request needs more than the API key's token limit has left in this period; it recovers around")]
    [InlineData("zh-CN", PolicyMetric.Quota, "本次请求所需额度超过 API key 本周期剩余额度，预计将在约")]
    [InlineData("zh-CN", PolicyMetric.Tokens, "本次请求所需 Token 数超过 API key 本周期剩余 Token 数，预计将在约")]
    [InlineData("zh-TW", PolicyMetric.Requests, "本次請求所需請求數超過 API key 本週期剩餘請求數，預計將在約")]
    [InlineData("fr", PolicyMetric.Quota, "Cette requête demande plus que ce qui reste sur le quota périodique de la clé API pour cette période ; rétablissement vers")]
    [InlineData("ja", PolicyMetric.Tokens, "このリクエストに必要なトークン数が、API キーの今期間の残りトークン数を超えています。")]
    [InlineData("ru", PolicyMetric.Requests, "Запросу нужно больше, чем осталось в этом периоде (API-ключ, лимит частоты запросов); восстановление около")]
    [InlineData("vi", PolicyMetric.Quota, "Yêu cầu này cần nhiều hơn phần còn lại của hạn mức định kỳ của khóa API trong kỳ này; sẽ khôi phục vào khoảng")]
    public void AStrictEstimateThatDoesNotFit_NamesItsKindOfLimit(string language, PolicyMetric metric, string expected)
    {
        (string message, _) = PolicyMessages.For(ReserveResult.PolicyEstimateTooLarge, View(metric, []), Now, language);

        Assert.StartsWith(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void AScopedStrictRefusal_NamesTheModelInEveryLanguage()
    {
        PolicyView policy = View(PolicyMetric.Quota, ["o1*"]);

        Assert.StartsWith("This request needs more than the API key's quota for model o1-mini has left", PolicyMessages.For(ReserveResult.PolicyEstimateTooLarge, policy, Now, "en", "o1-mini").Message, StringComparison.Ordinal);
        Assert.StartsWith("本次请求所需额度超过 API key 模型 o1-mini 的本周期剩余额度", PolicyMessages.For(ReserveResult.PolicyEstimateTooLarge, policy, Now, "zh-CN", "o1-mini").Message, StringComparison.Ordinal);
        Assert.StartsWith("このリクエストに必要なクォータが、API キーのモデル o1-mini の今期間の残りクォータ", PolicyMessages.For(ReserveResult.PolicyEstimateTooLarge, policy, Now, "ja", "o1-mini").Message, StringComparison.Ordinal);
        Assert.All(Languages.Names, language => Assert.Contains("o1-mini", PolicyMessages.For(ReserveResult.PolicyEstimateTooLarge, policy, Now, language, "o1-mini").Message, StringComparison.Ordinal));
    }

    [Fact]
    public void AKeyPausedByAScopedPolicy_NamesThePolicysModels_ForARequestOfAnotherModel()
    {
        PolicyView policy = View(PolicyMetric.Quota, ["gpt-4*", "o1"], pausesKey: true);

        Assert.StartsWith("API key quota for model gpt-4*, o1 reached", PolicyMessages.For(ReserveResult.KeyPaused, policy, Now, "en", "claude-3").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("en", "Manual reset is required")]
    [InlineData("zh-CN", "需要手动重置")]
    [InlineData("zh-TW", "需要手動重置")]
    [InlineData("fr", "Une réinitialisation manuelle est nécessaire")]
    [InlineData("ja", "手動リセットが必要です")]
    [InlineData("ru", "нужен ручной сброс")]
    [InlineData("vi", "Cần đặt lại thủ công")]
    public void AManualResetPolicy_NeverRecoversByItself_WhateverItCounts(string language, string expected)
    {
        foreach (PolicyMetric metric in Enum.GetValues<PolicyMetric>())
        {
            (string message, bool recovers) = PolicyMessages.For(ReserveResult.KeyPaused, View(metric, [], pausesKey: true, autoResume: false), Now, language);

            Assert.Contains(expected, message, StringComparison.Ordinal);
            Assert.False(recovers);
        }
    }

    [Fact]
    public void NoMessage_DisclosesAmounts_InAnyLanguage()
    {
        foreach (string language in Languages.Names)
        {
            foreach (PolicyMetric metric in Enum.GetValues<PolicyMetric>())
            {
                foreach (ReserveResult result in new[] { ReserveResult.PolicyExhausted, ReserveResult.PolicyEstimateTooLarge, ReserveResult.KeyPaused })
                {
                    foreach (long end in new[] { End, Now }) // recovers around T / recovery time reached
                    {
                        string message = PolicyMessages.For(result, View(metric, ["m*"], pausesKey: result == ReserveResult.KeyPaused, endMs: end), Now, language, "m1").Message;
                        string withoutTime = IsoTime().Replace(message, "");
                        Assert.DoesNotMatch("98|65", withoutTime);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(1, "1s")]
    [InlineData(59, "59s")]
    [InlineData(60, "1m0s")]
    [InlineData(360, "6m0s")]
    [InlineData(3599, "59m59s")]
    [InlineData(3600, "1h0m0s")]
    [InlineData(86_399, "23h59m59s")]
    [InlineData(604_800, "168h0m0s")]
    [InlineData(-5, "0s")]
    public void TheOpenAiReset_IsAGoDurationOfWholeSeconds(long seconds, string expected) => Assert.Equal(expected, RateLimitHeaders.Duration(seconds));

    [Fact]
    public void PolicyNames_SayTheMetricAndPeriod_AndTellTwinsApartByPosition()
    {
        PolicyView[] policies =
        [
            View(PolicyMetric.Requests, [], index: 0),
            View(PolicyMetric.Quota, ["gpt-4*"], index: 1, mode: PeriodMode.Daily),
            View(PolicyMetric.Quota, [], index: 2, mode: PeriodMode.Daily),
            View(PolicyMetric.Tokens, [], index: 3, mode: PeriodMode.Preset5h),
        ];
        var token = new TokenView(1, 1, TokenStatus.Enabled, false, false, 0, true, 0, 0, -1, policies);

        Assert.Equal(["requests-custom-1m", "quota-daily-2", "quota-daily-3", "tokens-preset_5h"], policies.Select(p => RateLimitHeaders.NameOf(token, p)));
        var oneDisabled = token with { Policies = [policies[0], policies[1], View(PolicyMetric.Quota, [], index: 2, mode: PeriodMode.Daily, enabled: false), policies[3]] };
        Assert.Equal("quota-daily", RateLimitHeaders.NameOf(oneDisabled, policies[1]));
    }

    [Fact]
    public void LogRowMetricNames_AreTheApisWireNames()
    {
        foreach (PolicyMetric metric in Enum.GetValues<PolicyMetric>())
        {
            var row = new LogDocument { Kind = LogKind.ExhaustedDisable, PolicyIndex = 0, Metric = metric };
            Assert.Equal(PolicyNames.NameOf(PolicyNames.Metrics, metric), ConsoleUi.LogSentences.Params(row)["metric"]);
        }
    }

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")]
    private static partial Regex IsoTime();
}
