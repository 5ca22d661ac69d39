using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Engine;
using Quota.Host.Configuration;

namespace Quota.Host.Relay;

/// <summary>The request shapes the relay prices; the route decides which, never a body field.</summary>
public enum RelayEndpoint
{
    ChatCompletions,
    Embeddings,
    /// <summary>Anthropic Messages (<c>/v1/messages</c>).</summary>
    Messages,
    /// <summary>OpenAI Responses (<c>/v1/responses</c>).</summary>
    Responses,
}

/// <summary>
/// A relay request checked and priced before anything is reserved: the model, whether it streams, its prompt
/// (every billable part counted), its completion ceiling (the smallest cap it states, or the default, times
/// <c>n</c>) and the estimate in quota units. <see cref="Parse"/> also writes that cap into the body that is
/// forwarded (<see cref="Forwarded"/>, from the client's bytes by <see cref="ForwardBody"/>), so the upstream cannot
/// produce more than was reserved.
/// </summary>
public sealed record RelayRequest(ReadOnlyMemory<byte> Forwarded, string Model, ModelPrice Price, bool Stream, long PromptTokens, long CompletionTokens, long EstimateUnits)
{
    /// <summary>The route the request came by (its protocol).</summary>
    public RelayEndpoint Endpoint { get; init; }

    /// <summary>The conversation a Responses request continues (its context size is remembered under it too).</summary>
    public string? Conversation { get; init; }

    /// <summary>The price group's multiplier (thousandths) the estimate was priced at: the charge is priced at it too.</summary>
    public long MultiplierPerMille { get; init; } = 1000;

    /// <summary>Largest <c>n</c> (choices per request) the relay forwards.</summary>
    public const long ChoicesMax = 128;

    /// <summary>The request, or the field that is wrong and why (400), or an unknown model (404).</summary>
    public readonly record struct Outcome(RelayRequest? Value, string? Field, string? Error, int Status = 400);

    /// <param name="body">The body, read and checked by <c>StrictJson</c>.</param>
    /// <param name="source">The same body's bytes, as the client sent them.</param>
    /// <param name="multiplierPerMille">The multiplier of the key's user's price group (<see cref="Pricing.MultiplierPerMille"/>).</param>
    /// <param name="carriedContextTokens">Context a Responses request continues that the relay cannot see (docs/relay.md).</param>
    /// <param name="cancellationToken">The request's: counting the prompt stops (throws) when the client leaves.</param>
    public static Outcome Parse(JsonObject body, ReadOnlyMemory<byte> source, RelayEndpoint endpoint, Pricing pricing, int defaultMaxTokens,
        long multiplierPerMille, long carriedContextTokens = 0, CancellationToken cancellationToken = default)
    {
        if (body["model"] is not JsonValue modelValue || !modelValue.TryGetValue(out string? model) || model.Length == 0)
        {
            return Fail("model", "is required: a string naming the model");
        }

        if (model.Length > pricing.ModelNameLengthMax || pricing.Find(model) is not { } price)
        {
            return new(null, "model", $"no price is configured for model '{Shorten(model)}'", 404);
        }

        if (!TryFlag(body, "stream", out bool stream))
        {
            return Fail("stream", "must be true or false");
        }

        Outcome parsed = endpoint switch
        {
            RelayEndpoint.Embeddings => Embeddings(body, source, model, price, multiplierPerMille, stream, cancellationToken),
            RelayEndpoint.Messages => Protocols.MessagesRequest.Parse(body, source, model, price, multiplierPerMille, stream, cancellationToken),
            RelayEndpoint.Responses => Protocols.ResponsesRequest.Parse(body, source, model, price, multiplierPerMille, stream, defaultMaxTokens, carriedContextTokens, cancellationToken),
            _ => Chat(body, source, model, price, multiplierPerMille, stream, defaultMaxTokens, cancellationToken),
        };
        return parsed.Value is { } request ? parsed with { Value = request with { Endpoint = endpoint, MultiplierPerMille = multiplierPerMille } } : parsed;
    }

    private static Outcome Chat(JsonObject body, ReadOnlyMemory<byte> source, string model, ModelPrice price, long multiplierPerMille, bool stream, int defaultMaxTokens,
        CancellationToken cancellationToken)
    {
        if (body["messages"] is not JsonArray { Count: > 0 } messages)
        {
            return Fail("messages", "is required: a non-empty array of messages");
        }

        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject)
            {
                return Fail($"messages[{i}]", "must be a message object");
            }
        }

        (long? maxCompletion, string? badCompletion) = Cap(body, "max_completion_tokens");
        (long? maxTokens, string? badMax) = Cap(body, "max_tokens");
        if (badCompletion is not null || badMax is not null)
        {
            return Fail(badCompletion is not null ? "max_completion_tokens" : "max_tokens", (badCompletion ?? badMax)!);
        }

        if (!TryCount(body["n"], out long choices))
        {
            return Fail("n", $"must be an integer from 1 to {ChoicesMax}");
        }

        if (stream && body["stream_options"] is { } options && options is not JsonObject)
        {
            return Fail("stream_options", "must be an object");
        }

        long cap = Math.Min(maxCompletion ?? long.MaxValue, maxTokens ?? long.MaxValue);
        string capField = maxCompletion is null && maxTokens is null ? "messages" : maxCompletion <= (maxTokens ?? long.MaxValue) ? "max_completion_tokens" : "max_tokens";
        cap = cap == long.MaxValue ? defaultMaxTokens : cap;
        long prompt;
        try
        {
            prompt = PromptCount.Chat(body, messages, price, cancellationToken);
        }
        catch (OverflowException)
        {
            return Fail("messages", "the prompt is too large to price");
        }

        // Written before forwarding: the upstream may produce at most what was reserved.
        ReadOnlyMemory<byte> forwarded = ForwardBody.Write(source.Span, cap, price.SendMaxTokens, stream);
        return Priced(forwarded, model, price, multiplierPerMille, stream, prompt, cap, choices, capField);
    }

    private static Outcome Embeddings(JsonObject body, ReadOnlyMemory<byte> source, string model, ModelPrice price, long multiplierPerMille, bool stream,
        CancellationToken cancellationToken)
    {
        if (stream)
        {
            return Fail("stream", "embeddings do not stream");
        }

        (long prompt, string? badField) = PromptCount.Embeddings(body["input"], price, cancellationToken);
        return badField is not null
            ? Fail(badField, "must be a string, an array of strings, or an array of token-id arrays")
            : Priced(source, model, price, multiplierPerMille, stream: false, prompt, cap: 0, choices: 1, capField: "input");
    }

    internal static Outcome Priced(ReadOnlyMemory<byte> forwarded, string model, ModelPrice price, long multiplierPerMille, bool stream, long prompt, long cap, long choices, string capField)
    {
        long completion = cap * choices; // both ≤ 2^31 and 128: no overflow
        if (Pricing.TryPrice(price, prompt, 0, multiplierPerMille) is not { } promptUnits || promptUnits > EngineLimits.AmountMaxUnits)
        {
            return Fail(capField is "input" or "max_output_tokens" ? "input" : "messages", $"the prompt costs more than one request may reserve ({EngineLimits.AmountMaxUnits} units)");
        }

        if (prompt > EngineLimits.TokensMax - completion)
        {
            return Fail(capField, $"the request counts more than {EngineLimits.TokensMax} tokens");
        }

        if (Pricing.TryPrice(price, prompt, completion, multiplierPerMille) is not { } units || units > EngineLimits.AmountMaxUnits)
        {
            return Fail(capField, $"the completion cap makes the request cost more than one request may reserve ({EngineLimits.AmountMaxUnits} units)");
        }

        return new(new RelayRequest(forwarded, model, price, stream, prompt, completion, Math.Max(1, units)), null, null);
    }

    /// <summary>An optional completion cap: absent or null → none; otherwise an integer 1 … int.MaxValue.</summary>
    internal static (long? Cap, string? Error) Cap(JsonObject body, string field)
    {
        JsonNode? node = body[field];
        if (node is null)
        {
            return (null, null);
        }

        if (!JsonNumbers.TryGetIntegral(node, out long cap) || cap < 1)
        {
            return (null, "must be a positive integer");
        }

        return cap > int.MaxValue ? (null, $"must be at most {int.MaxValue}") : (cap, null);
    }

    private static bool TryCount(JsonNode? node, out long choices)
    {
        choices = 1;
        return node is null || (JsonNumbers.TryGetIntegral(node, out choices) && choices is >= 1 and <= ChoicesMax);
    }

    internal static bool TryFlag(JsonObject body, string field, out bool flag)
    {
        flag = false;
        JsonNode? node = body[field];
        if (node is null)
        {
            return true;
        }

        if (node.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            flag = node.GetValue<bool>();
            return true;
        }

        return false;
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    internal static Outcome Fail(string field, string error) => new(null, field, error);
}
