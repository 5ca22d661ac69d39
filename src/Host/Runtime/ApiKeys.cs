using System.Security.Cryptography;
using System.Text;

namespace Quota.Host.Runtime;

/// <summary>API keys: generation (<c>sk-</c> + 48 URL-safe random characters), hashing for lookup, preview, constant-time checks.</summary>
public static class ApiKeys
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    public static string NewKey(string prefix = "sk-") => prefix + RandomNumberGenerator.GetString(Alphabet, 48);

    /// <summary>SHA-256 of the key, hex: what the store keeps instead of the key.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static string Preview(string key) => key.Length < 11 ? "sk-…" : $"{key[..7]}…{key[^4..]}";

    /// <summary>SHA-256 of a secret, to compare against with <see cref="SecretEquals"/>.</summary>
    public static byte[] SecretHash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>Compares a presented secret with a known one's hash, in time independent of where they differ.</summary>
    public static bool SecretEquals(string? presented, byte[] expectedHash) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(SecretHash(presented), expectedHash);

    /// <summary>The token after "Bearer " in the Authorization header, or null.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }
}
