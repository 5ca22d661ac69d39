using System.Text;

namespace Quota.Host.Relay;

/// <summary>
/// Reads a <c>text/event-stream</c> body as the HTML SSE specification defines it: lines end in CRLF, LF or CR;
/// <c>field:value</c> with at most one space dropped after the colon; lines starting with <c>:</c> are comments;
/// several <c>data</c> lines of one event are joined with LF; a blank line dispatches the event. Every line read is
/// also handed back so the relay can pass the stream on unchanged in meaning. One line is bounded
/// (<see cref="LineBytesMax"/>): a longer one is a broken upstream, not a reason to buffer without end.
/// Not thread-safe: one reader per upstream response.
/// </summary>
internal sealed class SseReader(Stream body) : IDisposable
{
    public const int LineBytesMax = 4 * 1024 * 1024;

    private readonly byte[] buffer = new byte[16 * 1024];
    private readonly MemoryStream line = new();
    private readonly StringBuilder data = new();
    private int start, end;
    private bool afterCr, hasData, ended;

    /// <summary>The next line without its terminator, or null at the end of the body.</summary>
    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        line.SetLength(0);
        while (true)
        {
            if (start == end)
            {
                if (ended)
                {
                    return line.Length > 0 ? Decode() : null;
                }

                end = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                start = 0;
                if (end == 0)
                {
                    ended = true;
                    continue;
                }
            }

            if (afterCr && buffer[start] == (byte)'\n')
            {
                start++; // the LF of a CRLF
            }

            afterCr = false;
            int stop = buffer.AsSpan(start, end - start).IndexOfAny((byte)'\n', (byte)'\r');
            stop = stop < 0 ? -1 : start + stop;
            int take = (stop < 0 ? end : stop) - start;
            if (line.Length + take > LineBytesMax)
            {
                throw new InvalidDataException($"an event-stream line is longer than {LineBytesMax} bytes");
            }

            line.Write(buffer, start, take);
            if (stop < 0)
            {
                start = end;
                continue;
            }

            afterCr = buffer[stop] == (byte)'\r';
            start = stop + 1;
            return Decode();
        }
    }

    /// <summary>
    /// Feeds one line to the event parser: returns the event's data when the line completes an event (a blank
    /// line after at least one data line, or the end of the body), else null.
    /// </summary>
    public string? Accept(string? text)
    {
        if (text is null || text.Length == 0)
        {
            if (!hasData)
            {
                return null;
            }

            string dispatched = data.ToString();
            data.Clear();
            hasData = false;
            return dispatched;
        }

        if (text[0] == ':')
        {
            return null; // a comment (keep-alive)
        }

        int colon = text.IndexOf(':', StringComparison.Ordinal);
        ReadOnlySpan<char> field = colon < 0 ? text : text.AsSpan(0, colon);
        if (!field.SequenceEqual("data"))
        {
            return null; // event, id, retry: nothing the relay needs
        }

        ReadOnlySpan<char> value = colon < 0 ? [] : text.AsSpan(colon + 1);
        if (value.Length > 0 && value[0] == ' ')
        {
            value = value[1..];
        }

        if (hasData)
        {
            data.Append('\n');
        }

        data.Append(value);
        hasData = true;
        return null;
    }

    public void Dispose() => line.Dispose();

    private string Decode() => Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length);
}
