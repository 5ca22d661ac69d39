using System.Buffers;
using System.Text.Json;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// Reads one protocol's upstream replies and stream events into a <see cref="UsageTally"/>: its usage, the text it
/// produced (for the tokenizer fallback), its last event, and error events (which throw
/// <see cref="InvalidDataException"/>: the stream is broken). Broken JSON throws <see cref="JsonException"/>.
/// </summary>
internal abstract class ProtocolReader
{
    public static readonly ProtocolReader Chat = new ChatReader();
    public static readonly ProtocolReader Messages = new MessagesReader();
    public static readonly ProtocolReader Responses = new ResponsesReader();

    public static ProtocolReader For(RelayEndpoint endpoint) => endpoint switch
    {
        RelayEndpoint.Messages => Messages,
        RelayEndpoint.Responses => Responses,
        _ => Chat,
    };

    /// <summary>A stream that ends without its last event (<c>message_stop</c>, <c>response.completed</c>…) was cut.</summary>
    public abstract bool EndsWithEvent { get; }

    /// <param name="produced">Also collect the produced text (only when the reply reports no output count).</param>
    public abstract void Reply(ReadOnlySequence<byte> reply, UsageTally tally, bool produced);

    public abstract void Event(ReadOnlyMemory<byte> data, UsageTally tally);

    /// <summary>The error event the relay ends a broken stream with, in the protocol's own shape.</summary>
    public abstract ReadOnlySpan<byte> ErrorEvent { get; }

    private sealed class ChatReader : ProtocolReader
    {
        private static readonly byte[] Error = System.Text.Encoding.UTF8.GetBytes(
            "data: {\"error\":{\"message\":\"the upstream stream failed or timed out before it finished\",\"type\":\"upstream_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n");

        public override bool EndsWithEvent => false;

        public override ReadOnlySpan<byte> ErrorEvent => Error;

        public override void Reply(ReadOnlySequence<byte> reply, UsageTally tally, bool produced)
        {
            ReplyFacts facts = ReplyScanner.Read(reply, stream: false, produced ? tally.Produced : null);
            tally.OpenAi(facts.Prompt, facts.Cached, facts.Completion, facts.Reasoning);
        }

        public override void Event(ReadOnlyMemory<byte> data, UsageTally tally)
        {
            if (data.Span.SequenceEqual("[DONE]"u8))
            {
                tally.Done = true;
                return;
            }

            ReplyFacts facts = ReplyScanner.Read(new ReadOnlySequence<byte>(data), stream: true, tally.Produced);
            if (facts.Error)
            {
                throw new InvalidDataException("the upstream sent an error event");
            }

            tally.OpenAi(facts.Prompt, facts.Cached, facts.Completion, facts.Reasoning);
        }
    }
}

/// <summary>Reading the JSON of the protocols read through a document: one object, no name twice in any object.</summary>
internal static class UpstreamJson
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    public static JsonDocument Parse(ReadOnlySequence<byte> json)
    {
        JsonDocument document = JsonDocument.Parse(json, Options);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new InvalidDataException("a JSON value that is not an object");
        }

        return document;
    }

    /// <summary>A property that is an object, else default.</summary>
    public static JsonElement Object(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Object ? value : default;

    public static string? String(JsonElement parent, string name)
    {
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException exception)
        {
            throw new InvalidDataException("a string that is not valid UTF-8", exception);
        }
    }

    /// <summary>A token count: an integral number ≥ 0 (however written), else null (absent, null, another kind).</summary>
    public static long? Tokens(JsonElement parent, string name)
    {
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.Number)
        {
            return null;
        }

        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(value.GetRawText()));
        reader.Read();
        return JsonNumbers.Tokens(ref reader);
    }
}
