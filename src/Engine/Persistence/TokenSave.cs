using System.Text.Json;
using System.Text.Json.Serialization;
using Quota.Engine.Model;

namespace Quota.Engine.Persistence;

/// <summary>
/// Everything one create or update of a key does, carried by one TokenSave record (docs/design.md "Saves"): the key's
/// configuration and, per policy position, the effect on its window. The live save computes this plan under the key's
/// lock, appends it, then applies it with the very routine that replays it — so a save is one unit in memory and in
/// the log, and replay reproduces it exactly (decisions such as "pause now" are recorded, never recomputed).
/// </summary>
internal sealed record TokenSave(
    int UserId,
    TokenStatus Status,
    bool UnlimitedQuota,
    long ExpiresAtMs,
    long BudgetDeltaUnits, // added to the key budget: an exact set is target − balance, taken with one CAS
    PolicySave?[] Policies) // by position; null = position untouched
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static TokenSave Deserialize(ReadOnlySpan<byte> payload) =>
        JsonSerializer.Deserialize<TokenSave>(payload, Json) ?? throw new InvalidDataException("empty token save");
}

/// <summary>
/// One policy position's part of a save. <see cref="Spec"/> null empties the position. A window restart
/// (<see cref="Restart"/>) or a re-alignment of the current window (<see cref="Move"/>) plus a quota change applied as
/// an addition (it commutes with concurrent settles of the same window); then the exhaustion and pause state as decided.
/// </summary>
internal sealed record PolicySave(
    QuotaPolicySpec? Spec,
    WindowRestart? Restart,
    WindowBounds? Move,
    long QuotaDeltaUnits,
    long ExhaustedAtMs,
    TokenStatus PausedFromStatus);

/// <summary>A window a save starts; <see cref="Leased"/>: it admits against a lease (saves of older versions: never).</summary>
internal sealed record WindowRestart(ushort Generation, long QuotaUnits, long StartMs, long EndMs, bool Leased = false);

internal sealed record WindowBounds(long StartMs, long EndMs);
