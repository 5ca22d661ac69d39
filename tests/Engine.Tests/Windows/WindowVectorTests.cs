using System.Text.Json;
using Quota.Engine.Model;
using Quota.Engine.Windows;
using Xunit;

namespace Quota.Engine.Tests.Windows;

/// <summary>The 396 golden cases of Windows/vectors/windows.jsonl, from an independent implementation of docs/design.md "Windows".</summary>
public sealed class WindowVectorTests
{
    public static TheoryData<int> VectorLines()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < WindowVectors.All.Count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(VectorLines))]
    public void Compute_MatchesGoldenVector(int line)
    {
        WindowVector v = WindowVectors.All[line];
        var rule = WindowRule.Create(v.Mode, v.CustomMinutes, v.AnchorSeconds * 1000, v.TimeZone);

        Window window = WindowMath.Compute(rule, v.NowSeconds * 1000);

        Assert.True(
            window == new Window(v.StartSeconds * 1000, v.EndSeconds * 1000),
            $"line {line + 1} ({v.Note}): expected [{v.StartSeconds}, {v.EndSeconds}) got [{window.StartMs / 1000}, {window.EndMs / 1000})");
    }

    [Fact]
    public void VectorFile_HasAllCases() => Assert.Equal(396, WindowVectors.All.Count);
}

internal sealed record WindowVector(
    PeriodMode Mode, int CustomMinutes, long AnchorSeconds, string TimeZone, long NowSeconds,
    long StartSeconds, long EndSeconds, string Note);

internal static class WindowVectors
{
    public static readonly IReadOnlyList<WindowVector> All = Load();

    public static PeriodMode ParseMode(string text) => text switch
    {
        "preset_5h" => PeriodMode.Preset5h,
        "daily" => PeriodMode.Daily,
        "weekly" => PeriodMode.Weekly,
        "monthly" => PeriodMode.Monthly,
        "custom" => PeriodMode.Custom,
        _ => throw new FormatException(text),
    };

    private static List<WindowVector> Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Windows", "vectors", "windows.jsonl");
        var result = new List<WindowVector>();
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            result.Add(new WindowVector(
                ParseMode(e.GetProperty("period_mode").GetString()!),
                e.GetProperty("custom_minutes").GetInt32(),
                e.GetProperty("anchor_time").GetInt64(),
                e.GetProperty("time_zone").GetString()!,
                e.GetProperty("now").GetInt64(),
                e.GetProperty("period_start").GetInt64(),
                e.GetProperty("period_end").GetInt64(),
                e.GetProperty("note").GetString() ?? ""));
        }

        return result;
    }
}
