using System.Text.Json;
using System.Text.Json.Serialization;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Host.Relay;

/// <summary>
/// The host's fields on a refusal log row (<see cref="LogKind.Refusal"/>): why the request was refused (the engine's
/// <see cref="ReserveResult"/> name), the model it asked for, where it came from, and the admission's explanation.
/// Written by the relay and the quota API for every refused reserve of a known key (docs/operations.md "Dashboard").
/// </summary>
public sealed record RefusalRow(
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("surface")] string Surface,
    [property: JsonPropertyName("admission")] AdmissionTrace Admission)
{
    /// <summary>The log row of a refusal; <see cref="LogDocument.PolicyIndex"/> names the refusing policy (-1: none).</summary>
    internal LogDocument ToRow(long atMs, int tokenId, int userId, int policyIndex, PolicyMetric metric) => new()
    {
        AtMs = atMs,
        Kind = LogKind.Refusal,
        TokenId = tokenId,
        UserId = userId,
        PolicyIndex = policyIndex,
        Metric = metric,
        WindowEndMs = Admission.ReopensAtMs ?? 0,
        HostJson = JsonSerializer.Serialize(this),
    };

    /// <summary>The host's fields of a refusal row; null for a row without them.</summary>
    internal static RefusalRow? Read(LogDocument row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.Kind != LogKind.Refusal || string.IsNullOrEmpty(row.HostJson))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<RefusalRow>(row.HostJson);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
