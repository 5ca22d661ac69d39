using System.Globalization;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.ConsoleUi;

namespace Quota.Host.Tests;

/// <summary>The console's log sentences name what a policy counts, in every language (src/Host/Console/LogSentences.cs).</summary>
public sealed class LogSentencesTests
{
    private static LogDocument Row(AuditAction action, PolicyMetric metric) =>
        LogDocument.From(new AuditEvent(action, 7, 1, 1, 1_782_532_500_000, 5, 5, 1_782_532_560_000, 1_782_532_500_000, TokenStatus.Enabled, ReservationId.None, 0, metric));

    [Theory]
    [InlineData("en", PolicyMetric.Requests, "policy 2 (Requests) used 5 of 5")]
    [InlineData("en", PolicyMetric.Quota, "policy 2 (Quota units) used 5 of 5")]
    [InlineData("zh-CN", PolicyMetric.Tokens, "策略 2（Token 数） 已用 5 / 5")]
    [InlineData("zh-TW", PolicyMetric.Requests, "策略 2（請求數） 已用 5 / 5")]
    [InlineData("fr", PolicyMetric.Requests, "La clé « k » a été suspendue temporairement : la politique 2 (Requêtes) a atteint 5 sur 5.")]
    [InlineData("ja", PolicyMetric.Tokens, "キー「k」を一時停止しました：ポリシー 2（トークン）の使用量が 5 中 5 に達しました。")]
    [InlineData("ru", PolicyMetric.Quota, "Ключ «k» временно отключён: политика 2 (Единицы квоты) — использовано 5 из 5.")]
    [InlineData("vi", PolicyMetric.Requests, "Khóa “k” đã bị tạm thời vô hiệu hóa: chính sách 2 (Yêu cầu) đã dùng 5 / 5.")]
    public void APauseRow_NamesThePolicysMetric(string culture, PolicyMetric metric, string expected)
    {
        CultureInfo before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(culture);
            Assert.Contains(expected, LogSentences.Render(Row(AuditAction.ExhaustedDisable, metric), "k", OperatorClock.For(null).Format), StringComparison.Ordinal);
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    [Fact]
    public void AThresholdRow_ReadsAsAPolicysOrAWalletsAlert()
    {
        CultureInfo before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("en");
            LogDocument policy = LogDocument.From(new AuditEvent(AuditAction.ThresholdReached, 7, 1, 0, 1_782_532_500_000, 85, 100, 1_782_532_560_000,
                1_782_532_500_000, TokenStatus.None, ReservationId.None, 0, PolicyMetric.Tokens, 80));
            LogDocument wallet = LogDocument.From(new AuditEvent(AuditAction.ThresholdReached, 7, 3, -1, 1_782_532_500_000, 900, 1_000, 0,
                1_782_532_000_000, TokenStatus.None, ReservationId.None, 20, PolicyMetric.Quota, 80));

            Assert.Contains("Key “k”: policy 1 (Tokens) reached 80% of its quota (85 of 100)", LogSentences.Render(policy, "k", OperatorClock.For(null).Format), StringComparison.Ordinal);
            Assert.Equal("The wallet of user #3 has spent 80% of its balance at the last top-up (900 of 1,000).", LogSentences.Render(wallet, "k", OperatorClock.For(null).Format));
            Assert.Equal(("quota.threshold_reached", "wallet"), (LogSentences.ActionOf(wallet.Kind), LogSentences.Params(wallet)["scope"]));
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    [Theory]
    [InlineData("en", "Protocol messages, provider “claude”: 7 uncached input, 5,000 cache read, 1,000 cache write (5 min), 2,000 cache write (1 h) tokens; 0 of the output were reasoning.")]
    [InlineData("zh-CN", "协议 messages，供应商“claude”：未缓存输入 7，缓存读取 5,000，缓存写入（5 分钟）1,000，缓存写入（1 小时）2,000 个 token")]
    public void AConsumeRow_ShowsItsProtocolProviderAndEveryTokenKind(string culture, string expected)
    {
        var consume = new global::Quota.Host.Relay.ConsumeRow("claude-x", 8_007, 10, 9_000, 8_500, 500, "Ok", false)
        {
            Protocol = "messages", Provider = "claude", CacheReadTokens = 5_000, CacheWrite5mTokens = 1_000, CacheWrite1hTokens = 2_000,
        };
        var row = new LogDocument { Kind = LogKind.Consume, TokenId = 7, UserId = 1, AmountUnits = 5_807, HostJson = System.Text.Json.JsonSerializer.Serialize(consume) };
        CultureInfo before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(culture);
            Assert.Contains(expected, LogSentences.Render(row, "k", OperatorClock.For(null).Format), StringComparison.Ordinal);
            Assert.Equal(5_000L, LogSentences.Params(row)["cache_read_tokens"]);
            Assert.Equal("messages", LogSentences.Params(row)["protocol"]);
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    [Theory]
    [InlineData("en", "Checked: key status; refused by policy 2 (Weekly); does not reopen by itself (a top-up, a raise or a reset does).")]
    [InlineData("zh-CN", "已检查：key 状态；由策略 2（每周）拒绝；不会自动恢复（需充值、提高额度或重置）。")]
    public void AKeyPausedByAPolicyWaitingForAManualReset_IsRefusedByThatPolicy_AndNeverReopensByItself(string culture, string expected)
    {
        var daily = new QuotaPolicySpec { Mode = PeriodMode.Daily, QuotaUnits = 100 };
        var weekly = new QuotaPolicySpec { Mode = PeriodMode.Weekly, QuotaUnits = 10, ExhaustedAction = ExhaustedAction.DisableToken, AutoResume = false };
        var view = new TokenView(7, 1, TokenStatus.Enabled, Paused: true, Expired: false, 1_000, false, 0, 0, -1,
        [
            new PolicyView(0, daily, 5, 0, 1_782_500_000_000, 1_782_586_400_000, 0, TokenStatus.None, false, false),
            new PolicyView(1, weekly, 10, 0, 1_782_500_000_000, 1_783_104_800_000, 1_782_532_500_000, TokenStatus.Enabled, true, false),
        ]);
        var refusal = new global::Quota.Host.Relay.RefusalRow("KeyPaused", "gpt-4o", "relay",
            global::Quota.Host.Relay.AdmissionTrace.Refused(view, new ReserveOutcome(ReserveResult.KeyPaused, ReservationId.None, 0, 1), "gpt-4o"));
        Assert.Equal(1, refusal.Admission.RefusedBy!.PolicyIndex);
        Assert.Null(refusal.Admission.ReopensAtMs);
        CultureInfo before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(culture);
            LogDocument row = refusal.ToRow(1_782_532_600_000, 7, 1, 1, PolicyMetric.Quota);
            Assert.EndsWith(expected, LogSentences.Render(row, "k", OperatorClock.For(null).Format), StringComparison.Ordinal);
            Assert.Equal("request.refused", LogSentences.ActionOf(row.Kind));
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }
}
