using System.Buffers.Binary;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

/// <summary>
/// A snapshot written before shadow policies (format 2: no enforcement byte in a policy, no shadow-refusal word in a
/// window) is still read, as enforcing policies with nothing counted (docs/operations.md "Upgrade").
/// </summary>
public sealed class SnapshotVersionTests
{
    private const long Quota = 0x0123_4567_89AB; // a value that appears nowhere else in the snapshot

    [Fact]
    public void AVersion2Snapshot_IsRead_AsEnforcingPoliciesWithTheirCounters()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Policy(Quota, mode: PeriodMode.Daily));
        t.Settle(t.ReserveOk(token, 70), 60);
        TokenView before = t.Read(token);

        using var current = new MemoryStream();
        SnapshotCodec.Write(t.Engine, current, sequence: 42);
        byte[] version2 = ToVersion2(current.ToArray());

        QuotaEngine read = SnapshotCodec.Read(new MemoryStream(version2), t.Options, TimeProvider.System, out long sequence);
        TokenView after = read.ReadToken(token, t.NowMs)!;
        Assert.Equal(42, sequence);
        Assert.Equal(PolicyEnforcement.Enforce, after.Policies[0].Spec.Enforcement);
        Assert.Equal(before.Policies[0], after.Policies[0]);
    }

    /// <summary>The same snapshot as format 2 wrote it: version 2, the one policy's enforcement byte and its window's shadow word taken out.</summary>
    private static byte[] ToVersion2(byte[] snapshot)
    {
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(snapshot.AsSpan(4)));
        BinaryPrimitives.WriteInt32LittleEndian(snapshot.AsSpan(4), 2);
        byte[] quota = BitConverter.GetBytes(Quota);
        int specQuota = snapshot.AsSpan().IndexOf(quota);
        int windowQuota = specQuota + 1 + snapshot.AsSpan(specQuota + 1).IndexOf(quota);
        Assert.True(specQuota > 0 && windowQuota > specQuota, "the quota appears in the spec and in the window");
        // spec: quota(8) anchor(8) zone("\x03UTC") action boundary resume metric | enforcement; window: headroom used quota | shadow word
        int enforcement = specQuota + 8 + 8 + 4 + 4;
        Assert.Equal((byte)PolicyEnforcement.Enforce, snapshot[enforcement]);
        List<byte> bytes = [.. snapshot];
        bytes.RemoveRange(windowQuota + 8, 8);
        bytes.RemoveRange(enforcement, 1);
        return [.. bytes];
    }
}
