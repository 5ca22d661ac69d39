using System.Buffers;

namespace Quota.Host.Relay;

/// <summary>
/// Reads a <c>text/event-stream</c> body in its bytes, as the HTML SSE specification defines it: lines end in CRLF,
/// LF or CR (a CRLF split across two reads is one terminator); <c>field:value</c> with at most one space dropped
/// after the colon; lines starting with <c>:</c> are comments; several <c>data</c> lines of one event are joined
/// with LF; a blank line dispatches the event. Lines are handed back as slices of the reader's buffer (no copy, no
/// string), so the relay forwards them as they came. One line is bounded (<see cref="LineBytesMax"/>): a longer one
/// is a broken upstream, not a reason to buffer without end. Not thread-safe: one scanner per upstream response.
/// </summary>
internal sealed class SseScanner
{
    public const int LineBytesMax = 4 * 1024 * 1024;

    private readonly ArrayBufferWriter<byte> data = new(1024);
    private bool afterCr, hasData, dispatched;

    /// <summary>The data of the event the last <see cref="Accept"/> or <see cref="Finish"/> dispatched.</summary>
    public ReadOnlyMemory<byte> Data => data.WrittenMemory;

    /// <summary>
    /// Takes the next line, without its terminator, off the front of <paramref name="buffer"/>. False when the buffer
    /// holds no whole line; when <paramref name="final"/> (the body ended), an unterminated rest is the last line.
    /// </summary>
    public bool TryReadLine(ref ReadOnlySequence<byte> buffer, bool final, out ReadOnlySequence<byte> line)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (afterCr && reader.TryPeek(out byte first))
        {
            afterCr = false;
            if (first == (byte)'\n')
            {
                reader.Advance(1); // the LF of a CRLF whose CR ended the previous read
            }
        }

        if (reader.TryReadToAny(out line, "\r\n"u8, advancePastDelimiter: false))
        {
            reader.TryRead(out byte terminator);
            if (terminator == (byte)'\r')
            {
                afterCr = !reader.IsNext((byte)'\n', advancePast: true);
            }

            Bound(line.Length);
            buffer = buffer.Slice(reader.Position);
            return true;
        }

        line = reader.UnreadSequence;
        Bound(line.Length);
        if (final && !line.IsEmpty)
        {
            buffer = line.Slice(line.End);
            return true;
        }

        buffer = line; // not a whole line yet: handed back (less the LF of a CRLF, if that came first)
        return false;
    }

    /// <summary>Feeds one line: true when it completes an event (a blank line after at least one data line).</summary>
    public bool Accept(ReadOnlySequence<byte> line)
    {
        StartEvent();
        if (line.IsEmpty)
        {
            return Dispatch();
        }

        ReadOnlySpan<byte> text = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        if (text[0] == (byte)':')
        {
            return false; // a comment (keep-alive)
        }

        int colon = text.IndexOf((byte)':');
        ReadOnlySpan<byte> field = colon < 0 ? text : text[..colon];
        if (!field.SequenceEqual("data"u8))
        {
            return false; // event, id, retry: nothing the relay needs
        }

        ReadOnlySpan<byte> value = colon < 0 ? [] : text[(colon + 1)..];
        if (value.Length > 0 && value[0] == (byte)' ')
        {
            value = value[1..];
        }

        if (hasData)
        {
            data.Write("\n"u8);
        }

        data.Write(value);
        hasData = true;
        return false;
    }

    /// <summary>The body ended: true when an event with data was still open (it is dispatched, as if a blank line came).</summary>
    public bool Finish()
    {
        StartEvent();
        return Dispatch();
    }

    private void StartEvent()
    {
        if (dispatched)
        {
            data.ResetWrittenCount();
            dispatched = false;
        }
    }

    private bool Dispatch()
    {
        if (!hasData)
        {
            return false;
        }

        hasData = false;
        dispatched = true;
        return true;
    }

    private static void Bound(long length)
    {
        if (length > LineBytesMax)
        {
            throw new InvalidDataException($"an event-stream line is longer than {LineBytesMax} bytes");
        }
    }
}
