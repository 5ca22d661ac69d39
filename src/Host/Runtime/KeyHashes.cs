using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Quota.Host.Runtime;

/// <summary>
/// The relay's map from a key's SHA-256 to its id, so that a request finds its key without reading the store
/// (docs/operations.md "At scale"). Until the background pass that builds the key index has read every label it is
/// filled lazily: a hash not seen yet is looked up in the store. Once that pass has put every label's hash here it is
/// complete (<see cref="MarkComplete"/>), and a hash not here is unknown without a store read — a flood of made-up keys
/// costs a dictionary lookup each. Label writes keep it exact; a key's hash never changes (a new secret is a new key).
/// Digests are kept as 32 bytes, not as their 64-character hex, so a million keys cost about 70 MB here, not 200.
/// </summary>
internal sealed class KeyHashes
{
    private readonly ConcurrentDictionary<KeyDigest, int> idsByDigest = new();
    private volatile bool complete;

    /// <summary>Whether every label's hash is here, so that a miss means an unknown key.</summary>
    public bool IsComplete => complete;

    public bool TryFind(in KeyDigest digest, out int tokenId) => idsByDigest.TryGetValue(digest, out tokenId);

    public void Set(string keyHash, int tokenId) => idsByDigest[KeyDigest.FromHex(keyHash)] = tokenId;

    public void Remove(string keyHash) => idsByDigest.TryRemove(KeyDigest.FromHex(keyHash), out _);

    /// <summary>The pass over every label has put each one's hash here (labels written meanwhile put theirs themselves).</summary>
    public void MarkComplete() => complete = true;
}

/// <summary>A SHA-256 digest as a dictionary key: 32 bytes compared as four words; its first word is already uniform, so it is the hash code.</summary>
internal readonly struct KeyDigest : IEquatable<KeyDigest>
{
    private readonly ulong a, b, c, d;

    private KeyDigest(ReadOnlySpan<byte> digest)
    {
        a = BinaryPrimitives.ReadUInt64LittleEndian(digest);
        b = BinaryPrimitives.ReadUInt64LittleEndian(digest[8..]);
        c = BinaryPrimitives.ReadUInt64LittleEndian(digest[16..]);
        d = BinaryPrimitives.ReadUInt64LittleEndian(digest[24..]);
    }

    /// <summary>The digest of a key as presented (computed on the stack: no allocation per request).</summary>
    public static KeyDigest OfKey(ReadOnlySpan<char> key)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        ApiKeys.Digest(key, digest);
        return new KeyDigest(digest);
    }

    /// <summary>The digest a label keeps as hex (<see cref="ApiKeys.Hash(string)"/>).</summary>
    public static KeyDigest FromHex(string keyHash)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        if (keyHash.Length != ApiKeys.HashChars || Convert.FromHexString(keyHash, digest, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            throw new FormatException($"a key hash is {ApiKeys.HashChars} hex characters");
        }

        return new KeyDigest(digest);
    }

    /// <summary>The hex a label keeps (the store's index is on it).</summary>
    public string ToHex()
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(digest, a);
        BinaryPrimitives.WriteUInt64LittleEndian(digest[8..], b);
        BinaryPrimitives.WriteUInt64LittleEndian(digest[16..], c);
        BinaryPrimitives.WriteUInt64LittleEndian(digest[24..], d);
        return Convert.ToHexStringLower(digest);
    }

    public bool Equals(KeyDigest other) => a == other.a && b == other.b && c == other.c && d == other.d;

    public override bool Equals(object? obj) => obj is KeyDigest other && Equals(other);

    public override int GetHashCode() => (int)a;
}
