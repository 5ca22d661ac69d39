using Quota.Engine.Model;
using Quota.Engine.Windows;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Windows;

/// <summary>The original gateway's window cases, in our closed-form window math.</summary>
public sealed class WindowMathTests
{
    private static Window Compute(PeriodMode mode, string anchor, string now, int customMinutes = 0, string zone = "UTC") =>
        WindowMath.Compute(WindowRule.Create(mode, customMinutes, At(anchor), zone), At(now));

    private static void AssertWindow(Window actual, string start, string end) =>
        Assert.Equal(new Window(At(start), At(end)), actual);

    [Fact]
    public void Preset5h_IsFixedFromTheAnchor_AndNowOnABoundaryStartsTheNextWindow() =>
        AssertWindow(Compute(PeriodMode.Preset5h, "2026-06-27T01:15:00Z", "2026-06-27T06:15:00Z"), "2026-06-27T06:15:00Z", "2026-06-27T11:15:00Z");

    [Fact]
    public void Custom30_UsesMinuteGranularity() =>
        AssertWindow(Compute(PeriodMode.Custom, "2026-06-27T10:00:00Z", "2026-06-27T10:30:00Z", 30), "2026-06-27T10:30:00Z", "2026-06-27T11:00:00Z");

    [Fact]
    public void Daily_KeepsTheAnchorTimeOfDay() =>
        AssertWindow(Compute(PeriodMode.Daily, "2026-06-27T09:30:00Z", "2026-06-29T09:29:59Z"), "2026-06-28T09:30:00Z", "2026-06-29T09:30:00Z");

    [Fact]
    public void Weekly_KeepsWeekdayAndTime() =>
        AssertWindow(Compute(PeriodMode.Weekly, "2026-06-22T09:30:00Z", "2026-07-06T09:30:00Z"), "2026-07-06T09:30:00Z", "2026-07-13T09:30:00Z");

    [Fact]
    public void Monthly_ClampsMissingDays() =>
        AssertWindow(Compute(PeriodMode.Monthly, "2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z"), "2026-02-28T08:00:00Z", "2026-03-31T08:00:00Z");

    [Fact]
    public void Monthly_ClampsToLeapDay() =>
        AssertWindow(Compute(PeriodMode.Monthly, "2028-01-31T08:00:00Z", "2028-02-29T08:00:00Z"), "2028-02-29T08:00:00Z", "2028-03-31T08:00:00Z");

    [Fact]
    public void Monthly_ClampsFromTheAnchorDayEveryMonth_NotFromThePreviousWindow()
    {
        var rule = WindowRule.Create(PeriodMode.Monthly, 0, At("2026-01-31T08:00:00Z"), "UTC");
        string[] expectedEnds = ["2026-02-28T08:00:00Z", "2026-03-31T08:00:00Z", "2026-04-30T08:00:00Z", "2026-05-31T08:00:00Z"];
        long now = At("2026-01-31T08:00:00Z");
        foreach (string end in expectedEnds)
        {
            Window window = WindowMath.Compute(rule, now);
            Assert.Equal(At(end), window.EndMs);
            now = window.EndMs;
        }
    }

    [Fact]
    public void FutureAnchor_TheCurrentWindowIsTheFirstOne()
    {
        AssertWindow(Compute(PeriodMode.Daily, "2026-06-27T10:00:00Z", "2026-06-27T09:00:00Z"), "2026-06-27T10:00:00Z", "2026-06-28T10:00:00Z");
        AssertWindow(Compute(PeriodMode.Preset5h, "2026-06-27T10:00:00Z", "2026-06-20T09:00:00Z"), "2026-06-27T10:00:00Z", "2026-06-27T15:00:00Z");
    }

    [Fact]
    public void Daily_InAZoneWithDst_KeepsLocalTimeOfDay()
    {
        // New York, anchor 2026-03-07 09:00 local (14:00Z); DST starts 2026-03-08: the next boundary is 13:00Z.
        Window window = Compute(PeriodMode.Daily, "2026-03-07T14:00:00Z", "2026-03-08T14:30:00Z", zone: "America/New_York");
        AssertWindow(window, "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z");
    }

    [Fact]
    public void ManyMissedWindows_CollapseIntoTheOneContainingNow() =>
        AssertWindow(Compute(PeriodMode.Daily, "2000-01-01T00:00:00Z", "2026-06-27T12:00:00Z"), "2026-06-27T00:00:00Z", "2026-06-28T00:00:00Z");
}
