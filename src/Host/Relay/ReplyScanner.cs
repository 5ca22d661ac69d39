using System.Buffers;
using System.Text.Json;

namespace Quota.Host.Relay;

/// <summary>What the relay needs from one upstream JSON object: its usage, and whether it is an error event.</summary>
internal readonly record struct ReplyFacts(long? Prompt, long? Completion, bool Error);

/// <summary>
/// Reads an upstream JSON object — a non-stream reply or one stream chunk — in its bytes with one
/// <see cref="Utf8JsonReader"/> pass, without building a tree: <c>usage.prompt_tokens</c> and
/// <c>usage.completion_tokens</c> (integral numbers however written: 100, 100.0, 1e2), whether it carries an
/// <c>error</c> object, and — when asked for — the text the choices produced (content, refusal, reasoning content,
/// tool-call and function-call names and arguments of <c>message</c>, or <c>delta</c> in a stream), appended as
/// UTF-8 for the tokenizer fallback. The whole object is validated: broken JSON or trailing text throws
/// <see cref="JsonException"/>; JSON that is not an object, or undecodable text, throws <see cref="InvalidDataException"/>.
/// </summary>
internal static class ReplyScanner
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };

    /// <param name="json">The object's bytes, whole.</param>
    /// <param name="stream">True for a stream chunk (choices carry <c>delta</c>), false for a reply (<c>message</c>).</param>
    /// <param name="produced">Where the produced text goes, or null when it is not needed.</param>
    public static ReplyFacts Read(ReadOnlySequence<byte> json, bool stream, IBufferWriter<byte>? produced)
    {
        var reader = new Utf8JsonReader(json, Options);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip(); // broken JSON throws here, as it would for an object
            throw new InvalidDataException("a JSON value that is not an object");
        }

        long? prompt = null, completion = null;
        bool error = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    (prompt, completion) = Usage(ref reader);
                }
            }
            else if (reader.ValueTextEquals("choices"u8) && produced is not null)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        Fields(ref reader, stream ? "delta"u8 : "message"u8, produced, Message);
                    }
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                error |= reader.TokenType == JsonTokenType.StartObject;
            }
            else
            {
                reader.Read();
            }

            reader.Skip(); // the rest of a value not read, or nothing (a value read to its end)
        }

        reader.Read(); // past the end of the object: trailing text throws
        return new(prompt, completion, error);
    }

    private static (long? Prompt, long? Completion) Usage(ref Utf8JsonReader reader)
    {
        long? prompt = null, completion = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isPrompt = reader.ValueTextEquals("prompt_tokens"u8), isCompletion = reader.ValueTextEquals("completion_tokens"u8);
            reader.Read();
            if (isPrompt)
            {
                prompt = JsonNumbers.Tokens(ref reader);
            }
            else if (isCompletion)
            {
                completion = JsonNumbers.Tokens(ref reader);
            }

            reader.Skip();
        }

        return (prompt, completion);
    }

    private delegate void Part(ref Utf8JsonReader reader, IBufferWriter<byte> produced);

    /// <summary>On an object: reads the value of <paramref name="name"/> with <paramref name="part"/>, skips the rest. Else skips the value.</summary>
    private static void Fields(ref Utf8JsonReader reader, ReadOnlySpan<byte> name, IBufferWriter<byte> produced, Part part)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool wanted = reader.ValueTextEquals(name);
            reader.Read();
            if (wanted && reader.TokenType == JsonTokenType.StartObject)
            {
                part(ref reader, produced);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>A message or delta object: its text fields, tool calls and function call.</summary>
    private static void Message(ref Utf8JsonReader reader, IBufferWriter<byte> produced)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("refusal"u8) || reader.ValueTextEquals("reasoning_content"u8))
            {
                reader.Read();
                Text(ref reader, produced);
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    Fields(ref reader, "function"u8, produced, Function);
                }
            }
            else if (reader.ValueTextEquals("function_call"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    Function(ref reader, produced);
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>A function object: its name and arguments.</summary>
    private static void Function(ref Utf8JsonReader reader, IBufferWriter<byte> produced)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool wanted = reader.ValueTextEquals("name"u8) || reader.ValueTextEquals("arguments"u8);
            reader.Read();
            if (wanted)
            {
                Text(ref reader, produced);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>Appends a string value, unescaped, as UTF-8; other kinds are skipped.</summary>
    private static void Text(ref Utf8JsonReader reader, IBufferWriter<byte> produced)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return;
        }

        int length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        try
        {
            produced.Advance(reader.CopyString(produced.GetSpan(Math.Max(length, 1))));
        }
        catch (InvalidOperationException exception)
        {
            throw new InvalidDataException("a string that is not valid UTF-8", exception);
        }
    }
}
