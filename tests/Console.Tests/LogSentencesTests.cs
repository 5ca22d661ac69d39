using System.Globalization;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.ConsoleUi;

namespace Quota.Host.Tests;

/// <summary>The console's log sentences name what a policy counts (src/Host/Console/LogSentences.cs).</summary>
public sealed class LogSentencesTests
{
    private static LogDocument Row(AuditAction action, PolicyMetric metric) =>
        SystemLogWriter.ToRow(new AuditEvent(action, 7, 1, 1, 1_782_532_500_000, 5, 5, 1_782_532_560_000, 1_782_532_500_000, TokenStatus.Enabled, ReservationId.None, 0, metric));

    [Theory]
    [InlineData("en", PolicyMetric.Requests, "policy 2 (Requests) used 5 of 5")]
    [InlineData("en", PolicyMetric.Quota, "policy 2 (Quota units) used 5 of 5")]
    [InlineData("zh-CN", PolicyMetric.Tokens, "策略 2（Token 数） 已用 5 / 5")]
    [InlineData("zh-TW", PolicyMetric.Requests, "策略 2（請求數） 已用 5 / 5")]
    public void APauseRow_NamesThePolicysMetric(string culture, PolicyMetric metric, string expected)
    {
        CultureInfo before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(culture);
            Assert.Contains(expected, LogSentences.Render(Row(AuditAction.ExhaustedDisable, metric), "k", OperatorClock.For(null)), StringComparison.Ordinal);
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }

    [Fact]
    public void ARowWrittenBeforeMetricsExisted_StillReads()
    {
        CultureInfo before = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("en");
            LogDocument old = Row(AuditAction.ManualReset, PolicyMetric.Quota);
            old.ParamsJson = """{"used_quota":0,"next_reset_at":1782532560,"policy_index":1}""";

            Assert.Contains("policy 2 was reset by hand", LogSentences.Render(old, "k", OperatorClock.For(null)), StringComparison.Ordinal);
        }
        finally
        {
            CultureInfo.CurrentUICulture = before;
        }
    }
}
