using System.Text.Json.Nodes;
using Quota.Host.Configuration;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// A <c>/v1/messages</c> request priced before anything is reserved (docs/relay.md "The estimate"): system, messages
/// (text, tool_use, tool_result; image blocks at the model's image price) and tools counted with the model's
/// tokenizer like a chat, then multiplied by the model's prompt safety factor — Anthropic's tokenizer is not public,
/// and counts more tokens than the OpenAI encodings for the same text. <c>max_tokens</c> is the protocol's own
/// required cap: the body is forwarded as the client sent it.
/// </summary>
internal static class MessagesRequest
{
    /// <summary>The prompt safety factor of a model served on /v1/messages that sets none (+50 %, docs/relay.md).</summary>
    public const int DefaultSafetyPerMille = 1500;

    private static readonly string[] SchemaFields = ["tools", "tool_choice"];

    public static RelayRequest.Outcome Parse(JsonObject body, ReadOnlyMemory<byte> source, string model, ModelPrice price, long multiplierPerMille, bool stream,
        CancellationToken cancellationToken)
    {
        if (body["max_tokens"] is null)
        {
            return RelayRequest.Fail("max_tokens", "is required: the most tokens the reply may have");
        }

        (long? cap, string? badCap) = RelayRequest.Cap(body, "max_tokens");
        if (badCap is not null)
        {
            return RelayRequest.Fail("max_tokens", badCap);
        }

        if (body["messages"] is not JsonArray { Count: > 0 } messages)
        {
            return RelayRequest.Fail("messages", "is required: a non-empty array of messages");
        }

        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject)
            {
                return RelayRequest.Fail($"messages[{i}]", "must be a message object");
            }
        }

        if (body["system"] is { } system && system is not JsonValue and not JsonArray)
        {
            return RelayRequest.Fail("system", "must be a string or an array of text blocks");
        }

        long prompt;
        try
        {
            prompt = Prompt(body, messages, price, cancellationToken);
        }
        catch (OverflowException)
        {
            return RelayRequest.Fail("messages", "the prompt is too large to price");
        }

        return RelayRequest.Priced(source, model, price, multiplierPerMille, stream, prompt, cap!.Value, choices: 1, capField: "max_tokens");
    }

    private static long Prompt(JsonObject body, JsonArray messages, ModelPrice price, CancellationToken cancellationToken)
    {
        long images = 0;
        long tokens = PromptCount.ReplyPrimingTokens + PromptCount.Strings(body["system"], price.Tokenizer, ref images, contentParts: false, cancellationToken);
        foreach (JsonNode? message in messages)
        {
            tokens += PromptCount.MessageOverheadTokens + PromptCount.Strings(message, price.Tokenizer, ref images, contentParts: false, cancellationToken);
        }

        foreach (string field in SchemaFields)
        {
            if (body[field] is { } schema)
            {
                tokens += TokenCounter.Count(price.Tokenizer, schema.ToJsonString(), cancellationToken);
            }
        }

        return Safety(checked(tokens + (images * price.ImageTokens)), price.PromptSafetyPerMille ?? DefaultSafetyPerMille);
    }

    /// <summary><paramref name="tokens"/> × <paramref name="perMille"/> / 1000, rounded up.</summary>
    public static long Safety(long tokens, long perMille) => checked((tokens * perMille) + 999) / 1000;
}
