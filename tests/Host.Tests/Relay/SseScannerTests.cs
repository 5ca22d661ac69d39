using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Quota.Host.Relay;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// The relay's event-stream scanner reads lines and events per the SSE specification however the upstream's bytes
/// are cut into reads: every cut point (one and two cuts) gives the same lines and events as the whole body.
/// </summary>
public sealed class SseScannerTests
{
    /// <summary>LF, CRLF and CR endings, a comment, <c>data:</c> with and without its space, a multi-line event, other fields.</summary>
    private const string Mixed =
        ": keep-alive\r\ndata:{\"a\":1}\r\n\r\nevent: delta\rid: 7\rdata: x\rdata: y\r\rretry: 10\ndata:  two spaces\n\ndata: [DONE]\n\n";

    private static readonly string[] MixedLines =
    [
        ": keep-alive", "data:{\"a\":1}", "", "event: delta", "id: 7", "data: x", "data: y", "", "retry: 10", "data:  two spaces", "", "data: [DONE]", "",
    ];

    private static readonly string[] MixedEvents = ["{\"a\":1}", "x\ny", " two spaces", "[DONE]"];

    [Fact]
    public async Task Whole_body_gives_the_lines_and_events_of_the_specification()
    {
        (List<string> lines, List<string> events) = await ScanAsync(Encoding.UTF8.GetBytes(Mixed));
        Assert.Equal(MixedLines, lines);
        Assert.Equal(MixedEvents, events);
    }

    [Fact]
    public async Task Every_single_cut_gives_the_same_lines_and_events()
    {
        byte[] body = Encoding.UTF8.GetBytes(Mixed);
        for (int cut = 0; cut <= body.Length; cut++)
        {
            (List<string> lines, List<string> events) = await ScanAsync(body, cut);
            Assert.True(MixedLines.SequenceEqual(lines), $"cut at {cut}: {string.Join("|", lines)}");
            Assert.True(MixedEvents.SequenceEqual(events), $"cut at {cut}: {string.Join("|", events)}");
        }
    }

    [Fact]
    public async Task Every_pair_of_cuts_gives_the_same_lines_and_events()
    {
        byte[] body = Encoding.UTF8.GetBytes(Mixed);
        for (int first = 0; first <= body.Length; first++)
        {
            for (int second = first; second <= body.Length; second++)
            {
                (List<string> lines, List<string> events) = await ScanAsync(body, first, second);
                Assert.True(MixedLines.SequenceEqual(lines) && MixedEvents.SequenceEqual(events), $"cuts at {first}, {second}");
            }
        }
    }

    [Fact]
    public async Task A_crlf_split_between_reads_is_one_terminator_not_a_blank_line()
    {
        byte[] body = Encoding.UTF8.GetBytes("data: a\r\ndata: b\r\n\r\n");
        (List<string> lines, List<string> events) = await ScanAsync(body, 8); // after the first CR
        Assert.Equal(["data: a", "data: b", ""], lines);
        Assert.Equal(["a\nb"], events);
    }

    [Fact]
    public async Task An_event_open_at_the_end_of_the_body_is_dispatched_and_a_last_line_without_terminator_is_read()
    {
        (List<string> lines, List<string> events) = await ScanAsync(Encoding.UTF8.GetBytes("data: {\"usage\":{}}\n\ndata: last"));
        Assert.Equal(["data: {\"usage\":{}}", "", "data: last"], lines);
        Assert.Equal(["{\"usage\":{}}", "last"], events);
    }

    [Fact]
    public async Task Comments_and_fields_other_than_data_dispatch_nothing_and_a_bare_data_line_is_empty_data()
    {
        (_, List<string> events) = await ScanAsync(Encoding.UTF8.GetBytes(": ping\n\nevent: x\nid: 1\n\ndata\n\n:data: no\n\n"));
        Assert.Equal([""], events);
    }

    [Fact]
    public async Task Multibyte_text_cut_inside_a_character_is_whole_in_the_event()
    {
        byte[] body = Encoding.UTF8.GetBytes("data: {\"content\":\"héllo 😀\"}\n\n");
        for (int cut = 0; cut <= body.Length; cut++)
        {
            (_, List<string> events) = await ScanAsync(body, cut);
            Assert.Equal(["{\"content\":\"héllo 😀\"}"], events);
        }
    }

    [Fact]
    public async Task A_line_longer_than_the_bound_is_a_broken_upstream()
    {
        byte[] body = new byte[SseScanner.LineBytesMax + 10];
        body.AsSpan().Fill((byte)'a');
        await Assert.ThrowsAsync<InvalidDataException>(() => ScanAsync(body, SseScanner.LineBytesMax + 5));
    }

    /// <summary>Feeds <paramref name="body"/> through a pipe in pieces cut at <paramref name="cuts"/>, as the relay reads it.</summary>
    private static async Task<(List<string> Lines, List<string> Events)> ScanAsync(byte[] body, params int[] cuts)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0)); // never pauses: the test writes, then reads
        var scanner = new SseScanner();
        List<string> lines = [], events = [];
        int from = 0;
        foreach (int cut in cuts.Where(c => c < body.Length).Append(body.Length))
        {
            if (cut == from && cut < body.Length)
            {
                continue; // an empty piece: a read would wait for bytes that never come
            }

            pipe.Writer.Write(body.AsSpan(from, cut - from));
            from = cut;
            if (cut == body.Length)
            {
                await pipe.Writer.CompleteAsync();
            }
            else
            {
                await pipe.Writer.FlushAsync();
            }

            ReadResult read = await pipe.Reader.ReadAsync();
            ReadOnlySequence<byte> buffer = read.Buffer;
            try
            {
                while (scanner.TryReadLine(ref buffer, read.IsCompleted, out ReadOnlySequence<byte> line))
                {
                    lines.Add(Encoding.UTF8.GetString(line));
                    if (scanner.Accept(line))
                    {
                        events.Add(Encoding.UTF8.GetString(scanner.Data.Span));
                    }
                }

                if (read.IsCompleted && scanner.Finish())
                {
                    events.Add(Encoding.UTF8.GetString(scanner.Data.Span));
                }
            }
            finally
            {
                pipe.Reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }

        return (lines, events);
    }
}
