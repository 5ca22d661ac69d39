using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Quota.Host.Runtime;

/// <summary>API keys: generation (<c>sk-</c> + 48 URL-safe random characters), hashing for lookup, preview, constant-time checks.</summary>
public static class ApiKeys
{
    /// <summary>Characters of a hex SHA-256.</summary>
    public const int HashChars = 2 * SHA256.HashSizeInBytes;
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    private const int StackBytesMax = 512;

    public static string NewKey(string prefix = "sk-") => prefix + RandomNumberGenerator.GetString(Alphabet, 48);

    /// <summary>SHA-256 of the key, hex: what the store keeps instead of the key.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static string Preview(string key) => key.Length < 11 ? "sk-…" : $"{key[..7]}…{key[^4..]}";

    /// <summary>SHA-256 of a secret, to compare against with <see cref="SecretEquals"/>.</summary>
    public static byte[] SecretHash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>Compares a presented secret with a known one's hash, in time independent of where they differ.</summary>
    public static bool SecretEquals(string? presented, byte[] expectedHash) =>
        presented is not null && SecretEquals(presented.AsSpan(), expectedHash);

    /// <inheritdoc cref="SecretEquals(string?, byte[])"/>
    public static bool SecretEquals(ReadOnlySpan<char> presented, byte[] expectedHash)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Digest(presented, digest);
        return CryptographicOperations.FixedTimeEquals(digest, expectedHash);
    }

    /// <summary>Whether the request carries <c>Authorization: Bearer &lt;secret&gt;</c> for the secret of <paramref name="expectedHash"/>.</summary>
    public static bool HasBearer(HttpRequest request, byte[] expectedHash) => HasBearer(request.Headers.Authorization, expectedHash);

    /// <summary>Whether an Authorization header value is <c>Bearer &lt;secret&gt;</c> for the secret of <paramref name="expectedHash"/>.</summary>
    public static bool HasBearer(string? authorization, byte[] expectedHash) =>
        BearerSpan(authorization) is { IsEmpty: false } token && SecretEquals(token, expectedHash);

    /// <summary>The token after "Bearer " in the Authorization header, or null.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }

    /// <summary><see cref="BearerToken"/> as a slice of the header (empty when absent), without allocating.</summary>
    private static ReadOnlySpan<char> BearerSpan(string? header) =>
        header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header.AsSpan(7).Trim() : default;

    /// <summary>SHA-256 of <paramref name="text"/>'s UTF-8 into <paramref name="digest"/>, without allocating.</summary>
    internal static void Digest(ReadOnlySpan<char> text, Span<byte> digest)
    {
        int length = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = length > StackBytesMax ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[StackBytesMax];
        try
        {
            SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(text, utf8)], digest);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
