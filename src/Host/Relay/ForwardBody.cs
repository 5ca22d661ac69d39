using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Quota.Host.Relay;

/// <summary>
/// The chat body the relay forwards: the client's own bytes with the completion cap written in, by one
/// <see cref="Utf8JsonReader"/> → <see cref="Utf8JsonWriter"/> pass rather than a tree and a re-serialisation. Every
/// top-level value is copied as it came (numbers keep their spelling, strings their escapes); property names are
/// rewritten with the same meaning; <c>max_completion_tokens</c> (and <c>max_tokens</c>, or its removal, per the
/// model's price) are replaced or added with the cap; a stream's <c>stream_options.include_usage</c> is set to true
/// (other options kept). The source has been validated (<c>StrictJson</c>: one object, no duplicate names, UTF-8).
/// </summary>
internal static class ForwardBody
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    public static ReadOnlyMemory<byte> Write(ReadOnlySpan<byte> source, long cap, bool sendMaxTokens, bool stream)
    {
        var output = new ArrayBufferWriter<byte>(source.Length + 96);
        using (var writer = new Utf8JsonWriter(output, WriterOptions))
        {
            var reader = new Utf8JsonReader(source, ReaderOptions);
            reader.Read(); // the object's start
            writer.WriteStartObject();
            bool optionsWritten = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_tokens"u8))
                {
                    reader.Read();
                    reader.Skip(); // written below, with the cap
                    continue;
                }

                bool options = stream && reader.ValueTextEquals("stream_options"u8);
                Name(ref reader, writer);
                reader.Read();
                if (options)
                {
                    StreamOptions(ref reader, writer, source);
                    optionsWritten = true;
                }
                else
                {
                    CopyValue(ref reader, writer, source);
                }
            }

            writer.WriteNumber("max_completion_tokens"u8, cap);
            if (sendMaxTokens)
            {
                writer.WriteNumber("max_tokens"u8, cap);
            }

            if (stream && !optionsWritten)
            {
                writer.WriteStartObject("stream_options"u8);
                writer.WriteBoolean("include_usage"u8, true);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return output.WrittenMemory;
    }

    /// <summary>The client's bytes with one top-level number property set to <paramref name="value"/> (replaced, or added at the end).</summary>
    public static ReadOnlyMemory<byte> WriteField(ReadOnlySpan<byte> source, ReadOnlySpan<byte> name, long value)
    {
        var output = new ArrayBufferWriter<byte>(source.Length + 48);
        using (var writer = new Utf8JsonWriter(output, WriterOptions))
        {
            var reader = new Utf8JsonReader(source, ReaderOptions);
            reader.Read(); // the object's start
            writer.WriteStartObject();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool replaced = reader.ValueTextEquals(name);
                if (!replaced)
                {
                    Name(ref reader, writer);
                }

                reader.Read();
                if (replaced)
                {
                    reader.Skip();
                }
                else
                {
                    CopyValue(ref reader, writer, source);
                }
            }

            writer.WriteNumber(name, value);
            writer.WriteEndObject();
        }

        return output.WrittenMemory;
    }

    /// <summary>The client's <c>stream_options</c> (an object, or null) with <c>include_usage</c> set to true.</summary>
    private static void StreamOptions(ref Utf8JsonReader reader, Utf8JsonWriter writer, ReadOnlySpan<byte> source)
    {
        writer.WriteStartObject();
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool usage = reader.ValueTextEquals("include_usage"u8);
                if (!usage)
                {
                    Name(ref reader, writer);
                }

                reader.Read();
                if (usage)
                {
                    reader.Skip();
                }
                else
                {
                    CopyValue(ref reader, writer, source);
                }
            }
        }

        writer.WriteBoolean("include_usage"u8, true);
        writer.WriteEndObject();
    }

    /// <summary>Copies the value the reader is on, whole, as its source bytes.</summary>
    private static void CopyValue(ref Utf8JsonReader reader, Utf8JsonWriter writer, ReadOnlySpan<byte> source)
    {
        int start = checked((int)reader.TokenStartIndex);
        reader.Skip();
        writer.WriteRawValue(source[start..checked((int)reader.BytesConsumed)], skipInputValidation: true);
    }

    private static void Name(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        if (!reader.ValueIsEscaped)
        {
            writer.WritePropertyName(reader.ValueSpan);
            return;
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            writer.WritePropertyName(rented.AsSpan(0, reader.CopyString(rented)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
