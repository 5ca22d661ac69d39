using System.Text.Json;
using System.Text.Json.Serialization;
using Quota.Engine.Model;

namespace Quota.Engine.Persistence;

/// <summary>
/// A key's whole configuration as carried by a TokenConfig delta record: written after every create or update,
/// so that the log alone rebuilds configuration and counters together (the save is one record: atomic).
/// Policies are by position; a null entry is an empty position.
/// </summary>
internal sealed record TokenConfig(int UserId, TokenStatus Status, bool UnlimitedQuota, long ExpiresAtMs, QuotaPolicySpec?[] Policies)
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static TokenConfig Deserialize(ReadOnlySpan<byte> payload) =>
        JsonSerializer.Deserialize<TokenConfig>(payload, Json) ?? throw new InvalidDataException("empty token configuration");
}
