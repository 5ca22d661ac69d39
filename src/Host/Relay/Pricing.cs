using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Relay;

/// <summary>
/// Prices requests in quota units: <c>PerCall + ceil((prompt × InputPerMillion + completion × OutputPerMillion) / 1,000,000)</c>,
/// integer arithmetic, overflow-checked. Estimates use prompt ≈ characters / 4 and the request's max tokens.
/// </summary>
public sealed class Pricing(IOptions<PricingOptions> options)
{
    private readonly PricingOptions pricing = options.Value;

    public IEnumerable<string> Models => pricing.Models.Keys;

    public bool Knows(string model) => pricing.Models.ContainsKey(model);

    public long Price(string model, long promptTokens, long completionTokens)
    {
        ModelPrice price = pricing.Models[model];
        long perMillion = checked((promptTokens * price.InputPerMillion) + (completionTokens * price.OutputPerMillion));
        return checked(price.PerCall + ((perMillion + 999_999) / 1_000_000));
    }

    public (long PromptTokens, long CompletionTokens) Estimate(JsonObject request)
    {
        long characters = 0;
        if (request["messages"] is JsonArray messages)
        {
            foreach (JsonNode? message in messages)
            {
                characters += TextLength(message?["content"]);
            }
        }

        characters += TextLength(request["input"]) + TextLength(request["prompt"]);
        long completion = MaxTokens(request["max_completion_tokens"]) ?? MaxTokens(request["max_tokens"]) ?? (request.ContainsKey("input") ? 0 : pricing.DefaultMaxTokens);
        return ((characters + 3) / 4, completion);
    }

    /// <summary>Characters of a string, of an array of strings, or of the text parts of a content array.</summary>
    public static long TextLength(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue(out string? text) => text.Length,
        JsonArray array => array.Sum(item => item is JsonObject part ? TextLength(part["text"]) : TextLength(item)),
        _ => 0,
    };

    private static long? MaxTokens(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue(out long tokens) && tokens > 0 ? tokens : null;
}
