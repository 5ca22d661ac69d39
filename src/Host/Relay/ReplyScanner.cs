using System.Buffers;
using System.Text.Json;

namespace Quota.Host.Relay;

/// <summary>
/// What the relay needs from one upstream JSON object: its usage (<c>prompt_tokens</c>, <c>completion_tokens</c>,
/// <c>prompt_tokens_details.cached_tokens</c>, <c>completion_tokens_details.reasoning_tokens</c>), and whether it is an error event.
/// </summary>
internal readonly record struct ReplyFacts(long? Prompt, long? Completion, bool Error, long? Cached = null, long? Reasoning = null);

/// <summary>
/// Reads an upstream JSON object — a non-stream reply or one stream chunk — in its bytes with one
/// <see cref="Utf8JsonReader"/> pass, without building a tree: <c>usage.prompt_tokens</c> and
/// <c>usage.completion_tokens</c> (integral numbers however written: 100, 100.0, 1e2), whether it carries an
/// <c>error</c> object, and — when asked for — the text the choices produced (content, refusal, reasoning content,
/// tool-call and function-call names and arguments of <c>message</c>, or <c>delta</c> in a stream), appended as
/// UTF-8 for the tokenizer fallback. The whole object is validated: broken JSON or trailing text throws
/// <see cref="JsonException"/>; JSON that is not an object, or undecodable text, throws <see cref="InvalidDataException"/>.
/// <para>
/// A name the scanner reads, given twice in the object it reads it from (the top level, <c>usage</c>, a choice, a
/// message or delta, a call, a function), throws <see cref="JsonException"/>: which of the two the client believes is
/// its own business, so the relay charges neither (a reply is a 502, a stream ends with an error event). A seen-bit
/// per read name keeps this free of allocations; names the relay does not read, and objects it skips, are only
/// checked for syntax, since what they say does not change what is charged.
/// </para>
/// <para>
/// A part of an unexpected kind (a <c>usage</c> that is a number, a choice that is not an object, a <c>content</c>
/// that is not a string, ...) is skipped, never an exception: the upstream did the work, and the relay charges what
/// it can still read (or counts the produced text).
/// </para>
/// </summary>
internal static class ReplyScanner
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 64 };

    /// <param name="json">The object's bytes, whole.</param>
    /// <param name="stream">True for a stream chunk (choices carry <c>delta</c>), false for a reply (<c>message</c>).</param>
    /// <param name="produced">
    /// Where the produced text goes, or null when it is not needed (the choices are still walked, for their names).
    /// </param>
    public static ReplyFacts Read(ReadOnlySequence<byte> json, bool stream, IBufferWriter<byte>? produced)
    {
        var reader = new Utf8JsonReader(json, Options);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip(); // broken JSON throws here, as it would for an object
            throw new InvalidDataException("a JSON value that is not an object");
        }

        long? prompt = null, completion = null, cached = null, reasoning = null;
        bool error = false;
        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("usage"u8))
            {
                Once(ref seen, 1);
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    (prompt, completion, cached, reasoning) = Usage(ref reader);
                }
            }
            else if (reader.ValueTextEquals("choices"u8) && Once(ref seen, 2))
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
                Once(ref seen, 4);
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
        return new(prompt, completion, error, cached, reasoning);
    }

    private static (long? Prompt, long? Completion, long? Cached, long? Reasoning) Usage(ref Utf8JsonReader reader)
    {
        long? prompt = null, completion = null, cached = null, reasoning = null;
        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isPrompt = reader.ValueTextEquals("prompt_tokens"u8), isCompletion = reader.ValueTextEquals("completion_tokens"u8);
            bool isPromptDetails = reader.ValueTextEquals("prompt_tokens_details"u8), isCompletionDetails = reader.ValueTextEquals("completion_tokens_details"u8);
            reader.Read();
            if (isPrompt)
            {
                Once(ref seen, 1);
                prompt = JsonNumbers.Tokens(ref reader);
            }
            else if (isCompletion)
            {
                Once(ref seen, 2);
                completion = JsonNumbers.Tokens(ref reader);
            }
            else if (isPromptDetails && Once(ref seen, 4) && reader.TokenType == JsonTokenType.StartObject)
            {
                cached = Detail(ref reader, "cached_tokens"u8);
            }
            else if (isCompletionDetails && Once(ref seen, 8) && reader.TokenType == JsonTokenType.StartObject)
            {
                reasoning = Detail(ref reader, "reasoning_tokens"u8);
            }

            reader.Skip();
        }

        return (prompt, completion, cached, reasoning);
    }

    /// <summary>One count of a usage details object (the reader is on its start; left on its end).</summary>
    private static long? Detail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        long? count = null;
        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool wanted = reader.ValueTextEquals(name) && Once(ref seen, 1);
            reader.Read();
            if (wanted)
            {
                count = JsonNumbers.Tokens(ref reader);
            }

            reader.Skip();
        }

        return count;
    }

    private delegate void Part(ref Utf8JsonReader reader, IBufferWriter<byte>? produced);

    /// <summary>On an object: reads the value of <paramref name="name"/> with <paramref name="part"/>, skips the rest. Else skips the value.</summary>
    private static void Fields(ref Utf8JsonReader reader, ReadOnlySpan<byte> name, IBufferWriter<byte>? produced, Part part)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool wanted = reader.ValueTextEquals(name) && Once(ref seen, 1);
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
    private static void Message(ref Utf8JsonReader reader, IBufferWriter<byte>? produced)
    {
        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int text = reader.ValueTextEquals("content"u8) ? 1 : reader.ValueTextEquals("refusal"u8) ? 2 : reader.ValueTextEquals("reasoning_content"u8) ? 4 : 0;
            if (text != 0)
            {
                Once(ref seen, text);
                reader.Read();
                Text(ref reader, produced);
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                Once(ref seen, 8);
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
                Once(ref seen, 16);
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
    private static void Function(ref Utf8JsonReader reader, IBufferWriter<byte>? produced)
    {
        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int field = reader.ValueTextEquals("name"u8) ? 1 : reader.ValueTextEquals("arguments"u8) ? 2 : 0;
            bool wanted = field != 0 && Once(ref seen, field);
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

    /// <summary>Marks a read name as seen in its object; a second time is malformed JSON. Always true (usable in a condition).</summary>
    private static bool Once(ref int seen, int bit)
    {
        if ((seen & bit) != 0)
        {
            throw new JsonException("a property named twice in one object");
        }

        seen |= bit;
        return true;
    }

    /// <summary>Appends a string value, unescaped, as UTF-8 (when asked for); other kinds are skipped.</summary>
    private static void Text(ref Utf8JsonReader reader, IBufferWriter<byte>? produced)
    {
        if (reader.TokenType != JsonTokenType.String || produced is null)
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
