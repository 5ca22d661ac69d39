using System.Net;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Runtime;

namespace Quota.Host.Tests.Security;

/// <summary>The failed-authentication windows: the failure past the limit waits for its window's end; ended windows reopen and are swept.</summary>
public sealed class FailureWindowsTests
{
    private static readonly IPAddress A = IPAddress.Parse("192.0.2.1"), B = IPAddress.Parse("192.0.2.2");

    [Fact]
    public void ThePastTheLimitFailure_WaitsForTheWindowsEnd_OtherAddressesAreNotCounted_AndAnEndedWindowReopens()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var windows = new FailureWindows(limit: 3, TimeSpan.FromSeconds(60), time);
        for (int i = 0; i < 3; i++)
        {
            Assert.Null(windows.Fail(A));
            time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(TimeSpan.FromSeconds(30), windows.Fail(A)); // opened at 0 s, now 30 s: 30 s left
        Assert.Null(windows.Fail(B));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(TimeSpan.FromSeconds(1), windows.Fail(A));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(windows.Fail(A)); // the window ended: this failure opens the next one
    }

    [Fact]
    public void EndedWindows_AreSweptWhenTheMapHasGrown()
    {
        var time = new FakeTimeProvider();
        var windows = new FailureWindows(limit: 1, TimeSpan.FromSeconds(1), time);
        for (int i = 0; i < 1000; i++)
        {
            windows.Fail(new IPAddress(0x0A000000 + i));
        }

        time.Advance(TimeSpan.FromSeconds(2));
        for (int i = 0; i < 100; i++)
        {
            windows.Fail(new IPAddress(0x0B000000 + i));
        }

        Assert.Equal(100, windows.Count); // the 1,000 ended windows went at the sweep the 1,024th address started
    }
}
