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

    /// <summary>
    /// The same snapshot as format 2 wrote it: users, then keys, then reservations, each as a count and entries (format 3
    /// tags each entry instead), and a policy without its enforcement byte and its window without the shadow word.
    /// </summary>
    private static byte[] ToVersion2(byte[] snapshot)
    {
        // Format 3 of one user, one key and one (settled) reservation: header | user | key | reservation | end tag, magic.
        const int Header = 4 + 4 + 8 + 4, UserEntry = 1 + 4 + 24, ReservationEntry = 1 + 4 + 8 + 4 + 4 + (7 * 8) + 1 + 1, Trailer = 1 + 4;
        ReadOnlySpan<byte> s = snapshot;
        Assert.Equal(4, BinaryPrimitives.ReadInt32LittleEndian(s[4..]));
        int keyEntry = Header + UserEntry, reservationEntry = s.Length - Trailer - ReservationEntry;
        Assert.Equal([1, 2, 3, 0], new[] { s[Header], s[keyEntry], s[reservationEntry], s[^Trailer] }); // the entries' tags
        int userId = BinaryPrimitives.ReadInt32LittleEndian(s[(Header + 1)..]);
        int tokenId = BinaryPrimitives.ReadInt32LittleEndian(s[(keyEntry + 1)..]);

        List<byte> v2 = [.. s[..4], .. Int32(2), .. s[8..Header]];
        v2.AddRange(Int32(userId));
        v2.AddRange(new byte[userId - 1]); // the ids before it: absent
        v2.Add(1);
        v2.AddRange(s[(Header + 5)..keyEntry].ToArray());
        v2.AddRange(Int32(tokenId));
        v2.AddRange(new byte[tokenId - 1]);
        v2.Add(1);
        v2.AddRange(WithoutShadowFields(WithoutLeaseFields(s[(keyEntry + 5)..reservationEntry].ToArray())));
        v2.AddRange(Int32(1));
        v2.AddRange(s[(reservationEntry + 1)..^Trailer].ToArray());
        v2.AddRange(s[^4..].ToArray());
        return [.. v2];
    }

    [Fact]
    public void AVersion3Snapshot_IsRead_AsWindowsThatAreNotLeased()
    {
        var t = new TestEngine();
        int token = t.Token(t.User(), 10_000, Policy(Quota, mode: PeriodMode.Daily));
        t.Settle(t.ReserveOk(token, 70), 60);
        ReservationId open = t.ReserveOk(token, 5);
        string before = EngineState.Describe(t.Engine, t.NowMs);

        using var current = new MemoryStream();
        SnapshotCodec.Write(t.Engine, current, sequence: 42);
        byte[] version3 = ToVersion3(current.ToArray());

        QuotaEngine read = SnapshotCodec.Read(new MemoryStream(version3), t.Options, TimeProvider.System, out _);
        Assert.Equal(before, EngineState.Describe(read, t.NowMs));
        Assert.False(read.FindKey(token)!.Slots![0]!.Cell.IsLeased);
        Assert.Equal(FinishResult.Ok, read.Settle(open, 5, t.NowMs).Result);
        Assert.Empty(Diagnostics.ConservationAudit.Check(read));
    }

    /// <summary>The same snapshot as format 3 wrote it: its one key's window without the lease words and closing report.</summary>
    private static byte[] ToVersion3(byte[] snapshot)
    {
        const int Header = 4 + 4 + 8 + 4, UserEntry = 1 + 4 + 24;
        const int KeyEntry = Header + UserEntry;
        byte[] v3 = [.. snapshot[..KeyEntry], .. WithoutLeaseFields(snapshot[KeyEntry..])];
        BinaryPrimitives.WriteInt32LittleEndian(v3.AsSpan(4), 3);
        return v3;
    }

    private static byte[] Int32(int value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Bytes from a key's entry on, without its one window's lease fields (format 4): after the window's quota, shadow word,
    /// start and end come leased mode (1), net lease (8), charges reported (8) and the closing report (2 + 5 × 8).
    /// </summary>
    private static byte[] WithoutLeaseFields(byte[] key)
    {
        byte[] quota = BitConverter.GetBytes(Quota);
        int specQuota = key.AsSpan().IndexOf(quota);
        int windowQuota = specQuota + 1 + key.AsSpan(specQuota + 1).IndexOf(quota);
        Assert.True(specQuota > 0 && windowQuota > specQuota, "the quota appears in the spec and in the window");
        List<byte> bytes = [.. key];
        bytes.RemoveRange(windowQuota + 8 + 8 + 16, 1 + 8 + 8 + 2 + (5 * 8));
        return [.. bytes];
    }

    /// <summary>A key's bytes without its one policy's enforcement byte and its window's shadow word.</summary>
    private static byte[] WithoutShadowFields(byte[] key)
    {
        byte[] quota = BitConverter.GetBytes(Quota);
        int specQuota = key.AsSpan().IndexOf(quota);
        int windowQuota = specQuota + 1 + key.AsSpan(specQuota + 1).IndexOf(quota);
        Assert.True(specQuota > 0 && windowQuota > specQuota, "the quota appears in the spec and in the window");
        // spec: quota(8) anchor(8) zone("\x03UTC") action boundary resume metric | enforcement; window: headroom used quota | shadow word
        int enforcement = specQuota + 8 + 8 + 4 + 4;
        Assert.Equal((byte)PolicyEnforcement.Enforce, key[enforcement]);
        List<byte> bytes = [.. key];
        bytes.RemoveRange(windowQuota + 8, 8);
        bytes.RemoveRange(enforcement, 1);
        return [.. bytes];
    }
}
