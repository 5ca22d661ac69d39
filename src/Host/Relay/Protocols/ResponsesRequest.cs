using System.Text.Json.Nodes;
using Quota.Host.Configuration;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// A <c>/v1/responses</c> request priced before anything is reserved (docs/relay.md "The estimate"): instructions,
/// every input item (strings, message parts, calls and their outputs; image parts at the model's image price),
/// tools, tool_choice, text format and prompt template counted with the model's tokenizer, plus the context of a
/// stored response or conversation it continues (<see cref="ResponseContexts"/>); the output cap is
/// <c>max_output_tokens</c> (else <c>Pricing:DefaultMaxTokens</c>), written into the forwarded body.
/// <c>background: true</c> is refused: a response that finishes after the request ends could not be billed.
/// </summary>
internal static class ResponsesRequest
{
    private static readonly string[] SchemaFields = ["tools", "tool_choice", "text", "prompt"];

    public static RelayRequest.Outcome Parse(JsonObject body, ReadOnlyMemory<byte> source, string model, ModelPrice price, long multiplierPerMille, bool stream, int defaultMaxTokens, long carried,
        CancellationToken cancellationToken)
    {
        if (!RelayRequest.TryFlag(body, "background", out bool background))
        {
            return RelayRequest.Fail("background", "must be true or false");
        }

        if (background)
        {
            return RelayRequest.Fail("background", "is not supported by the relay: a background response could not be billed; send it in the foreground");
        }

        (long? cap, string? badCap) = RelayRequest.Cap(body, "max_output_tokens");
        if (badCap is not null)
        {
            return RelayRequest.Fail("max_output_tokens", badCap);
        }

        if (body["input"] is { } input && input is not JsonArray && !(input is JsonValue text && text.TryGetValue(out string? _)))
        {
            return RelayRequest.Fail("input", "must be a string or an array of input items");
        }

        if (body["instructions"] is { } instructions && !(instructions is JsonValue i && i.TryGetValue(out string? _)))
        {
            return RelayRequest.Fail("instructions", "must be a string");
        }

        long prompt;
        try
        {
            prompt = checked(Prompt(body, price, cancellationToken) + carried);
        }
        catch (OverflowException)
        {
            return RelayRequest.Fail("input", "the prompt is too large to price");
        }

        long limit = cap ?? defaultMaxTokens;
        ReadOnlyMemory<byte> forwarded = ForwardBody.WriteField(source.Span, "max_output_tokens"u8, limit);
        return RelayRequest.Priced(forwarded, model, price, multiplierPerMille, stream, prompt, limit, choices: 1, capField: "max_output_tokens");
    }

    private static long Prompt(JsonObject body, ModelPrice price, CancellationToken cancellationToken)
    {
        long images = 0;
        long tokens = PromptCount.ReplyPrimingTokens + PromptCount.Strings(body["instructions"], price.Tokenizer, ref images, contentParts: false, cancellationToken);
        switch (body["input"])
        {
            case JsonArray items:
                foreach (JsonNode? item in items)
                {
                    tokens += PromptCount.MessageOverheadTokens + PromptCount.Strings(item, price.Tokenizer, ref images, contentParts: false, cancellationToken);
                }

                break;
            case { } text:
                tokens += PromptCount.MessageOverheadTokens + PromptCount.Strings(text, price.Tokenizer, ref images, contentParts: false, cancellationToken);
                break;
        }

        foreach (string field in SchemaFields)
        {
            if (body[field] is { } schema)
            {
                tokens += TokenCounter.Count(price.Tokenizer, schema.ToJsonString(), cancellationToken);
            }
        }

        return checked(tokens + (images * price.ImageTokens));
    }
}
