using BenchmarkDotNet.Attributes;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Windows;

namespace Quota.Benchmarks;

/// <summary>Window math per period mode (runs only at rollover, never per request): closed form, including a DST zone.</summary>
[MemoryDiagnoser]
[BenchmarkCategory("windows")]
public class WindowMathBenchmarks
{
    private static readonly long Anchor = DateTimeOffset.Parse("2020-01-31T08:30:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
    private static readonly long Now = DateTimeOffset.Parse("2026-11-28T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
    private readonly WindowRule preset5h = WindowRule.Create(PeriodMode.Preset5h, 0, Anchor, "UTC");
    private readonly WindowRule custom = WindowRule.Create(PeriodMode.Custom, 17, Anchor, "UTC");
    private readonly WindowRule dailyUtc = WindowRule.Create(PeriodMode.Daily, 0, Anchor, "UTC");
    private readonly WindowRule dailyNewYork = WindowRule.Create(PeriodMode.Daily, 0, Anchor, "America/New_York");
    private readonly WindowRule weeklyBerlin = WindowRule.Create(PeriodMode.Weekly, 0, Anchor, "Europe/Berlin");
    private readonly WindowRule monthlySydney = WindowRule.Create(PeriodMode.Monthly, 0, Anchor, "Australia/Sydney");

    [Benchmark] public long Preset5h() => WindowMath.Compute(preset5h, Now).EndMs;
    [Benchmark] public long Custom17Minutes() => WindowMath.Compute(custom, Now).EndMs;
    [Benchmark] public long DailyUtc() => WindowMath.Compute(dailyUtc, Now).EndMs;
    [Benchmark] public long DailyNewYorkDst() => WindowMath.Compute(dailyNewYork, Now).EndMs;
    [Benchmark] public long WeeklyBerlin() => WindowMath.Compute(weeklyBerlin, Now).EndMs;
    [Benchmark] public long MonthlySydney() => WindowMath.Compute(monthlySydney, Now).EndMs;
}

/// <summary>The 64-byte delta record: encode and decode with its CRC-32C.</summary>
[MemoryDiagnoser]
[BenchmarkCategory("codec")]
public class CodecBenchmarks
{
    private readonly byte[] buffer = new byte[DeltaRecordCodec.RecordBytes];
    private readonly DeltaRecord record = DeltaRecord.Settle(new ReservationId(0x1_0000_0042), 12, 3, 60, 75, 1_795_836_000_000, exhaustedReply: false, default);

    [Benchmark]
    public long EncodeDecode()
    {
        DeltaRecordCodec.Write(buffer, record, 42);
        DeltaRecordCodec.TryRead(buffer, out DeltaRecord decoded, out long sequence, out _, out _);
        return decoded.ChargedUnits + sequence;
    }
}
