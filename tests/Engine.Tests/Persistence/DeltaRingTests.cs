using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Engine.Tests.Persistence;

public sealed class DeltaRingTests
{
    [Fact]
    public async Task ConcurrentProducers_EveryRecordIsDrainedOnce_InSequenceOrder()
    {
        var ring = new DeltaRing(1 << 10, firstSequence: 1000);
        const int producers = 4, perProducer = 50_000;
        var seen = new List<(long Sequence, long Value)>();
        using var done = new CancellationTokenSource();
        var consumer = Task.Run(() =>
        {
            var buffer = new byte[64 * 256];
            while (true)
            {
                bool finished = done.IsCancellationRequested;
                int bytes = ring.Drain(buffer, out _);
                for (int offset = 0; offset < bytes; offset += 64)
                {
                    Assert.Equal(DecodeStatus.Ok, DeltaRecordCodec.TryRead(buffer.AsSpan(offset), out DeltaRecord r, out long sequence, out _, out _));
                    seen.Add((sequence, r.EstimateUnits));
                }

                if (finished && bytes == 0)
                {
                    return;
                }
            }
        });
        Parallel.For(0, producers, p =>
        {
            for (int i = 0; i < perProducer; i++)
            {
                var record = DeltaRecord.Refund(new ReservationId(1), p, 0, ((long)p << 32) | (uint)i, 0);
                var spin = default(SpinWait);
                while (!ring.TryAppend(record))
                {
                    spin.SpinOnce(); // full: reported, the test's producer chooses to wait
                }
            }
        });
        done.Cancel();
        await consumer;

        Assert.Equal(producers * perProducer, seen.Count);
        Assert.Equal(Enumerable.Range(0, seen.Count).Select(i => 1000L + i), seen.Select(s => s.Sequence));
        Assert.Equal(producers * perProducer, seen.Select(s => s.Value).Distinct().Count());
        for (int p = 0; p < producers; p++)
        {
            long[] mine = seen.Where(s => s.Value >> 32 == p).Select(s => s.Value & 0xFFFF_FFFF).ToArray();
            Assert.Equal(mine.Order(), mine); // each producer's records keep their order
        }
    }

    [Fact]
    public void AFullRing_SaysSo_AndDrainingMakesRoom()
    {
        var ring = new DeltaRing(4, firstSequence: 1);
        var record = DeltaRecord.Refund(new ReservationId(1), 1, 1, 1, 0);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(ring.TryAppend(record));
        }

        Assert.False(ring.TryAppend(record));
        Assert.Equal(4 * 64, ring.Drain(new byte[1024], out long last));
        Assert.Equal(4, last);
        Assert.True(ring.TryAppend(record));
        Assert.Equal(5, ring.AppendedThrough);
    }
}
