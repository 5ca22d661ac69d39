using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Quota.Engine.Accounts;

namespace Quota.Engine.Tests.Accounts;

/// <summary>The packed (generation, value) word round-trips at every edge of its fields.</summary>
public sealed class WindowWordTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(ushort.MaxValue, WindowWord.ValueMax)]
    [InlineData(ushort.MaxValue, WindowWord.ValueMin)]
    [InlineData(1, -1)]
    [InlineData(12345, 1)]
    public void Pack_RoundTrips_AtTheEdges(int generation, long value)
    {
        long word = WindowWord.Pack((ushort)generation, value);
        Assert.Equal((ushort)generation, WindowWord.Generation(word));
        Assert.Equal(value, WindowWord.Value(word));
    }

    [Property(MaxTest = 500)]
    public Property Pack_RoundTrips_ForAnyGenerationAndInRangeValue() =>
        Prop.ForAll(
            (from generation in Gen.Choose(0, ushort.MaxValue)
             from high in Gen.Choose(int.MinValue, int.MaxValue)
             from low in Gen.Choose(-65536, 65535)
             select ((ushort)generation, WindowWord.Saturate(((long)high * 65536) + low))).ToArbitrary(),
            pair => WindowWord.Generation(WindowWord.Pack(pair.Item1, pair.Item2)) == pair.Item1 &&
                    WindowWord.Value(WindowWord.Pack(pair.Item1, pair.Item2)) == pair.Item2);

    [Fact]
    public void Saturate_ClampsToTheFieldRange()
    {
        Assert.Equal(WindowWord.ValueMax, WindowWord.Saturate(long.MaxValue));
        Assert.Equal(WindowWord.ValueMin, WindowWord.Saturate(long.MinValue));
    }
}
