using System.Buffers.Binary;
using System.Numerics;

namespace Quota.Engine.Persistence;

/// <summary>What <see cref="DeltaRecordCodec.TryRead"/> found.</summary>
internal enum DecodeStatus : byte
{
    Ok = 0,
    /// <summary>Fewer bytes than a record (or its payload) needs: a torn tail.</summary>
    Truncated = 1,
    ChecksumMismatch = 2,
    UnknownVersion = 3,
    UnknownKind = 4,
}

/// <summary>
/// The on-disk form of a delta record: 64 bytes, little-endian, CRC-32C over every byte but the checksum field.
/// A record flagged as having a payload is followed by a 4-byte length, the payload, and the payload's CRC-32C.
/// <code>
///  0 version u8 | 1 kind u8 | 2 policy index/mask i8 | 3 flags u8 | 4 token id i32 | 8 user id i32 | 12 crc u32
/// 16 sequence i64 | 24 reservation id i64 | 32 a i64 | 40 b i64 | 48 at-ms i64 | 56 aux i64
/// </code>
/// What a, b and aux hold depends on the kind: <see cref="DeltaRecord"/>'s factories and accessors are the only
/// place that knows.
/// <code>
/// </code>
/// </summary>
internal static class DeltaRecordCodec
{
    public const int RecordBytes = 64;
    /// <summary>
    /// 2: one record per operation (TokenSave, marks on Settle/Expire, epochs in reservation ids). 3: a Reserve's policy
    /// byte also carries its shadow refusals (high four bits). Version 2 records are still read: their high bits are 0.
    /// 4: LeaseGrant and LeaseReport records (leased windows); every record of versions 2 and 3 reads as it did.
    /// </summary>
    public const byte CurrentVersion = 4;
    public const byte OldestReadableVersion = 2;
    private const byte HasPayloadFlag = 1;

    /// <summary>Bytes a record (with its payload, if any) occupies.</summary>
    public static int SizeOf(int payloadBytes) => payloadBytes == 0 ? RecordBytes : RecordBytes + 8 + payloadBytes;

    /// <summary>Writes a record and, when it has one, its payload trailer.</summary>
    public static void Write(Span<byte> destination, in DeltaRecord record, long sequence, ReadOnlySpan<byte> payload = default)
    {
        WriteHead(destination, record, sequence, hasPayload: !payload.IsEmpty);
        if (!payload.IsEmpty)
        {
            WritePayload(destination[RecordBytes..], payload);
        }
    }

    /// <summary>Writes the 64-byte head; <paramref name="hasPayload"/> promises a payload trailer right after it.</summary>
    public static void WriteHead(Span<byte> destination, in DeltaRecord record, long sequence, bool hasPayload)
    {
        Span<byte> head = destination[..RecordBytes];
        head[0] = CurrentVersion;
        head[1] = (byte)record.Kind;
        head[2] = (byte)(sbyte)record.Policy;
        head[3] = hasPayload ? HasPayloadFlag : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(head[4..], record.TokenId);
        BinaryPrimitives.WriteInt32LittleEndian(head[8..], record.UserId);
        BinaryPrimitives.WriteInt64LittleEndian(head[16..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(head[24..], record.RawReservationId);
        BinaryPrimitives.WriteInt64LittleEndian(head[32..], record.A);
        BinaryPrimitives.WriteInt64LittleEndian(head[40..], record.B);
        BinaryPrimitives.WriteInt64LittleEndian(head[48..], record.At);
        BinaryPrimitives.WriteInt64LittleEndian(head[56..], record.Aux);
        BinaryPrimitives.WriteUInt32LittleEndian(head[12..], HeadChecksum(head));
    }

    /// <summary>Writes a payload trailer: 4-byte length, the payload, its CRC-32C.</summary>
    public static void WritePayload(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, payload.Length);
        payload.CopyTo(destination[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(4 + payload.Length)..], Checksum(payload));
    }

    /// <summary>Decodes the record at the start of <paramref name="source"/>; <paramref name="size"/> is how many bytes it took.</summary>
    public static DecodeStatus TryRead(ReadOnlySpan<byte> source, out DeltaRecord record, out long sequence, out ReadOnlySpan<byte> payload, out int size)
    {
        record = default;
        sequence = 0;
        payload = default;
        size = 0;
        if (source.Length < RecordBytes)
        {
            return DecodeStatus.Truncated;
        }

        ReadOnlySpan<byte> head = source[..RecordBytes];
        if (BinaryPrimitives.ReadUInt32LittleEndian(head[12..]) != HeadChecksum(head))
        {
            return DecodeStatus.ChecksumMismatch;
        }

        if (head[0] is < OldestReadableVersion or > CurrentVersion)
        {
            return DecodeStatus.UnknownVersion;
        }

        var kind = (DeltaKind)head[1];
        if (!Enum.IsDefined(kind))
        {
            return DecodeStatus.UnknownKind;
        }

        size = RecordBytes;
        if ((head[3] & HasPayloadFlag) != 0)
        {
            if (source.Length < RecordBytes + 4)
            {
                return DecodeStatus.Truncated;
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(source[RecordBytes..]);
            if (length < 0 || source.Length < RecordBytes + 8L + length)
            {
                return DecodeStatus.Truncated;
            }

            payload = source.Slice(RecordBytes + 4, length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(source[(RecordBytes + 4 + length)..]) != Checksum(payload))
            {
                return DecodeStatus.ChecksumMismatch;
            }

            size = RecordBytes + 8 + length;
        }

        sequence = BinaryPrimitives.ReadInt64LittleEndian(head[16..]);
        record = DeltaRecord.FromFields(
            kind,
            BinaryPrimitives.ReadInt32LittleEndian(head[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(head[8..]),
            (sbyte)head[2],
            BinaryPrimitives.ReadInt64LittleEndian(head[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(head[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(head[40..]),
            BinaryPrimitives.ReadInt64LittleEndian(head[48..]),
            BinaryPrimitives.ReadInt64LittleEndian(head[56..]));
        return DecodeStatus.Ok;
    }

    /// <summary>CRC-32C of the 64-byte head, skipping the checksum field itself (hardware-accelerated, allocation-free).</summary>
    internal static uint HeadChecksum(ReadOnlySpan<byte> head)
    {
        uint crc = BitOperations.Crc32C(uint.MaxValue, BinaryPrimitives.ReadUInt64LittleEndian(head));
        crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(head[8..]));
        for (int offset = 16; offset < RecordBytes; offset += 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(head[offset..]));
        }

        return ~crc;
    }

    private static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
