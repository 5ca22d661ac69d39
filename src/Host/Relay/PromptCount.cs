using System.Text.Json.Nodes;
using Quota.Host.Configuration;

namespace Quota.Host.Relay;

/// <summary>
/// Counts the prompt tokens a request can be billed for, as a ceiling of what a provider counts (docs/relay.md):
/// every string of every message (role, name, content and its text parts, tool calls and their arguments, …)
/// counted separately with the model's tokenizer plus one separator token each, plus a per-message overhead; tools, function schemas,
/// response_format, tool_choice and prediction counted as their JSON text, property names included; each image
/// part at the model's <see cref="ModelPrice.ImageTokens"/>. Parts the relay does not know (audio, files) are
/// counted as their text, which over-counts: the estimate may be high, never low.
/// </summary>
internal static class PromptCount
{
    /// <summary>Tokens a provider adds per message (its start and end markers): OpenAI documents 3.</summary>
    public const long MessageOverheadTokens = 3;
    /// <summary>Tokens allowed per string of a message for the separator a provider's template puts between its fields.</summary>
    public const long SeparatorTokens = 1;
    /// <summary>Tokens a provider adds to prime the reply.</summary>
    public const long ReplyPrimingTokens = 3;

    private static readonly string[] SchemaFields = ["tools", "functions", "response_format", "tool_choice", "prediction"];
    private static readonly HashSet<string> ImagePartTypes = new(StringComparer.Ordinal) { "image_url", "input_image", "image" };

    /// <summary>The prompt of a chat request; <paramref name="messages"/> has been checked to be an array of objects.</summary>
    /// <param name="cancellationToken">The request's: counting stops when the client leaves.</param>
    public static long Chat(JsonObject request, JsonArray messages, ModelPrice price, CancellationToken cancellationToken)
    {
        long images = 0;
        long tokens = ReplyPrimingTokens;
        foreach (JsonNode? message in messages)
        {
            tokens += MessageOverheadTokens + Strings(message, price.Tokenizer, ref images, contentParts: false, cancellationToken);
        }

        foreach (string field in SchemaFields)
        {
            if (request[field] is { } schema)
            {
                tokens += TokenCounter.Count(price.Tokenizer, schema.ToJsonString(), cancellationToken);
            }
        }

        return checked(tokens + (images * price.ImageTokens));
    }

    /// <summary>
    /// The prompt of an embeddings request: a string, an array of strings, an array of token ids, or an array of
    /// token-id arrays (OpenAI's four input forms). Null and a bad shape return the path of the offending item.
    /// </summary>
    public static (long Tokens, string? BadField) Embeddings(JsonNode? input, ModelPrice price, CancellationToken cancellationToken)
    {
        switch (input)
        {
            case JsonValue value when value.TryGetValue(out string? text):
                return (TokenCounter.Count(price.Tokenizer, text, cancellationToken), null);
            case JsonArray items when items.Count > 0:
                long tokens = 0;
                for (int i = 0; i < items.Count; i++)
                {
                    JsonNode? item = items[i];
                    if (item is JsonValue s && s.TryGetValue(out string? part))
                    {
                        tokens += TokenCounter.Count(price.Tokenizer, part, cancellationToken);
                    }
                    else if (JsonNumbers.TryGetIntegral(item, out _))
                    {
                        tokens += 1;
                    }
                    else if (item is JsonArray ids && ids.All(id => JsonNumbers.TryGetIntegral(id, out _)))
                    {
                        tokens += ids.Count;
                    }
                    else
                    {
                        return (0, $"input[{i}]");
                    }
                }

                return (tokens, null);
            default:
                return (0, "input");
        }
    }

    /// <summary>Text a completion produced (contents, refusals, tool-call names and arguments) in the model's tokens.</summary>
    public static long Produced(string encoding, string text) => TokenCounter.Count(encoding, text);

    /// <param name="contentParts">The node is an item of a message's content array: only there is a part an image.</param>
    internal static long Strings(JsonNode? node, string encoding, ref long images, bool contentParts, CancellationToken cancellationToken)
    {
        switch (node)
        {
            case JsonObject part when contentParts && part["type"] is JsonValue type && type.TryGetValue(out string? kind) && ImagePartTypes.Contains(kind):
                images++;
                return 0;
            case JsonObject fields:
                long inObject = 0;
                foreach (KeyValuePair<string, JsonNode?> field in fields)
                {
                    inObject += Strings(field.Value, encoding, ref images, contentParts: false, cancellationToken);
                }

                return inObject;
            case JsonArray items:
                long inArray = 0;
                bool parts = node.Parent is JsonObject owner && owner["content"] == node;
                foreach (JsonNode? item in items)
                {
                    inArray += Strings(item, encoding, ref images, parts, cancellationToken);
                }

                return inArray;
            case JsonValue value when value.TryGetValue(out string? text):
                return SeparatorTokens + TokenCounter.Count(encoding, text, cancellationToken);
            case JsonValue other:
                return SeparatorTokens + TokenCounter.Count(encoding, other.ToJsonString(), cancellationToken);
            default:
                return 0;
        }
    }
}
