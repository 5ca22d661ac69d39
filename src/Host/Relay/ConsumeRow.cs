using System.Text.Json;
using System.Text.Json.Serialization;
using Quota.Engine.Persistence;

namespace Quota.Host.Relay;

/// <summary>
/// The relay's own fields on a consume log row: the model, the tokens counted, the estimate that was reserved and how
/// the settle went. Host data, kept in the row's <see cref="LogDocument.HostJson"/> (the engine stores it unread).
/// </summary>
public sealed record ConsumeRow(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
    [property: JsonPropertyName("completion_tokens")] long CompletionTokens,
    [property: JsonPropertyName("estimate")] long EstimateUnits,
    [property: JsonPropertyName("estimate_prompt_tokens")] long EstimatePromptTokens,
    [property: JsonPropertyName("estimate_completion_tokens")] long EstimateCompletionTokens,
    [property: JsonPropertyName("settle")] string Settle,
    [property: JsonPropertyName("counted")] bool Counted)
{
    /// <summary>chat, embeddings, messages or responses (absent on rows older than the protocols: chat or embeddings).</summary>
    [JsonPropertyName("protocol")]
    public string? Protocol { get; init; }

    /// <summary>The provider that answered (<c>default</c>: <c>Relay:Upstream</c>).</summary>
    [JsonPropertyName("provider")]
    public string? Provider { get; init; }

    /// <summary>Input tokens read from the provider's cache (part of <see cref="PromptTokens"/>).</summary>
    [JsonPropertyName("cache_read_tokens")]
    public long CacheReadTokens { get; init; }

    /// <summary>Input tokens written to a 5-minute cache (part of <see cref="PromptTokens"/>).</summary>
    [JsonPropertyName("cache_write_5m_tokens")]
    public long CacheWrite5mTokens { get; init; }

    /// <summary>Input tokens written to a 1-hour cache (part of <see cref="PromptTokens"/>).</summary>
    [JsonPropertyName("cache_write_1h_tokens")]
    public long CacheWrite1hTokens { get; init; }

    /// <summary>Reasoning tokens (part of <see cref="CompletionTokens"/>).</summary>
    [JsonPropertyName("reasoning_tokens")]
    public long ReasoningTokens { get; init; }

    /// <summary>The output the upstream reported when it was above the forwarded cap (charged the cap); else absent.</summary>
    [JsonPropertyName("reported_completion_tokens")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? ReportedCompletionTokens { get; init; }

    /// <summary>The accounts the request was held on (absent on rows older than it).</summary>
    [JsonPropertyName("admission")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AdmissionTrace? Admission { get; init; }

    /// <summary>Uncached input tokens.</summary>
    [JsonIgnore]
    public long InputTokens => PromptTokens - CacheReadTokens - CacheWrite5mTokens - CacheWrite1hTokens;

    /// <summary>The API's <c>params</c> of the row: the estimate and settle, the protocol and provider, every token kind.</summary>
    internal Dictionary<string, object?> Params()
    {
        var values = new Dictionary<string, object?>
        {
            ["estimate"] = EstimateUnits, ["estimate_prompt_tokens"] = EstimatePromptTokens, ["estimate_completion_tokens"] = EstimateCompletionTokens,
            ["settle"] = Settle, ["counted"] = Counted, ["protocol"] = Protocol ?? "chat", ["provider"] = Provider ?? "default",
            ["input_tokens"] = InputTokens, ["cache_read_tokens"] = CacheReadTokens, ["cache_write_5m_tokens"] = CacheWrite5mTokens,
            ["cache_write_1h_tokens"] = CacheWrite1hTokens, ["reasoning_tokens"] = ReasoningTokens,
        };
        if (ReportedCompletionTokens is { } reported)
        {
            values["reported_completion_tokens"] = reported;
        }

        if (Admission is { } admission)
        {
            values["checked"] = admission.Checked;
        }

        return values;
    }

    /// <summary>The log row of one relayed request, charged <paramref name="chargedUnits"/>.</summary>
    internal LogDocument ToRow(long atMs, int tokenId, int userId, long chargedUnits) => new()
    {
        AtMs = atMs,
        Kind = LogKind.Consume,
        TokenId = tokenId,
        UserId = userId,
        AmountUnits = chargedUnits,
        HostJson = JsonSerializer.Serialize(this),
    };

    /// <summary>The relay's fields of a consume row; null for a row without them.</summary>
    internal static ConsumeRow? Read(LogDocument row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.Kind != LogKind.Consume || string.IsNullOrEmpty(row.HostJson))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ConsumeRow>(row.HostJson);
        }
        catch (JsonException)
        {
            return null; // a row written by something else: shown without the relay's details
        }
    }
}
