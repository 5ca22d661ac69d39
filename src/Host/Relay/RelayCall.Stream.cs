using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Quota.Host.Relay.Protocols;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

// A stream: read through a PipeReader and passed on line by line as the bytes came (never buffered whole, no string
// per line), each line re-terminated with LF, written to Response.BodyWriter and flushed once per upstream read.
// Accounting reads the events per the SSE specification (SseScanner) and each event's JSON with the protocol's
// reader (ProtocolReader: chat in its bytes with ReplyScanner). The usage wins; without one, what was produced is
// counted with the model's tokenizer. A Messages or Responses stream that ends without its last event was cut. When
// the client leaves, the upstream is still read (without writing) for its usage, for at most the usage grace. A
// stream that fails after it started (broken event, upstream cut, idle or whole timeout) is settled for what it
// produced — refunded if it produced nothing — and ends with an error event.
internal sealed partial class RelayCall
{
    /// <summary>Produced text is counted in pieces of about this many bytes, so a long stream holds no more than this.</summary>
    private const int ProducedBytesPerCount = 64 * 1024;

    private async Task<IResult> StreamAsync(HttpResponseMessage response, UpstreamDeadlines deadlines)
    {
        if (response.Content.Headers.ContentType?.MediaType is not { } type || !type.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            HostLog.UpstreamInvalid(logger, request.Model, $"content type {response.Content.Headers.ContentType?.MediaType ?? "(none)"} for a stream");
            return await FailAsync("the upstream answered something that is not an event stream");
        }

        AddRateLimitHeaders();
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var tally = new UsageTally();
        string? failure = null;
        try
        {
            await using Stream body = await response.Content.ReadAsStreamAsync(deadlines.Token);
            PipeReader reader = PipeReader.Create(body, UpstreamPipe);
            try
            {
                await PumpAsync(reader, new SseScanner(), tally, deadlines);
            }
            finally
            {
                await reader.CompleteAsync();
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException or InvalidDataException or JsonException)
        {
            failure = Reason(deadlines, exception);
        }

        if (failure is null && reader.EndsWithEvent && !tally.Done)
        {
            failure = "the stream ended before its last event";
        }

        if (failure is not null)
        {
            HostLog.StreamFailed(logger, request.Model, failure);
            await WriteErrorEventAsync(deadlines);
        }

        CountProduced(tally);
        if (tally.Output is null && !tally.InputKnown && failure is not null && tally.ProducedTokens == 0)
        {
            await RefundAsync(); // failed before producing anything (an input side already reported is billed by the provider: settled)
        }
        else
        {
            await SettleAsync(tally);
        }

        return Results.Empty;
    }

    /// <summary>Reads the upstream to its end (or <c>[DONE]</c>), flushing what each read brought before the next read.</summary>
    private async Task PumpAsync(PipeReader reader, SseScanner scanner, UsageTally tally, UpstreamDeadlines deadlines)
    {
        while (true)
        {
            deadlines.Touch();
            ReadResult read = await reader.ReadAsync(deadlines.Token);
            ReadOnlySequence<byte> buffer = read.Buffer;
            bool end;
            try
            {
                Scan(ref buffer, read.IsCompleted, scanner, tally, deadlines);
                end = tally.Done || read.IsCompleted;
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }

            await FlushAsync(deadlines);
            if (end)
            {
                return;
            }
        }
    }

    /// <summary>Forwards and accounts every whole line of one read; leaves a partial line in <paramref name="buffer"/>.</summary>
    private void Scan(ref ReadOnlySequence<byte> buffer, bool final, SseScanner scanner, UsageTally tally, UpstreamDeadlines deadlines)
    {
        while (!tally.Done && scanner.TryReadLine(ref buffer, final, out ReadOnlySequence<byte> line))
        {
            Forward(line, deadlines);
            if (scanner.Accept(line))
            {
                Tally(scanner.Data, tally);
            }
        }

        if (final && !tally.Done && scanner.Finish())
        {
            Tally(scanner.Data, tally);
        }
    }

    /// <summary>Writes one line and its LF to the client, unless it has left (then the upstream is read to its usage only).</summary>
    private void Forward(ReadOnlySequence<byte> line, UpstreamDeadlines deadlines)
    {
        if (deadlines.ClientIsGone)
        {
            return;
        }

        try
        {
            PipeWriter writer = context.Response.BodyWriter;
            foreach (ReadOnlyMemory<byte> segment in line)
            {
                writer.Write(segment.Span);
            }

            writer.Write("\n"u8);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            deadlines.ClientLeft();
        }
    }

    private async ValueTask FlushAsync(UpstreamDeadlines deadlines)
    {
        if (deadlines.ClientIsGone)
        {
            return;
        }

        try
        {
            FlushResult flushed = await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                deadlines.ClientLeft();
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            deadlines.ClientLeft();
        }
    }

    /// <summary>Accounts one event: the usage chunk, the produced text, or the end marker. Broken JSON throws.</summary>
    private void Tally(ReadOnlyMemory<byte> data, UsageTally tally)
    {
        reader.Event(data, tally);
        if (tally.Produced.WrittenCount >= ProducedBytesPerCount)
        {
            // counted in pieces: a long stream holds a bounded buffer (a piece boundary may split one token in two)
            CountProduced(tally);
        }
    }

    private void CountProduced(UsageTally tally)
    {
        if (tally.Produced.WrittenCount > 0)
        {
            tally.ProducedTokens += PromptCount.Produced(request.Price.Tokenizer, Encoding.UTF8.GetString(tally.Produced.WrittenSpan));
            tally.Produced.ResetWrittenCount();
        }
    }

    private async Task WriteErrorEventAsync(UpstreamDeadlines deadlines)
    {
        if (deadlines.ClientIsGone)
        {
            return;
        }

        try
        {
            context.Response.BodyWriter.Write(reader.ErrorEvent);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            deadlines.ClientLeft(); // the client left meanwhile: nothing to tell it
            return;
        }

        await FlushAsync(deadlines);
    }
}
