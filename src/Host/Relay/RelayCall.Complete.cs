using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Quota.Engine.Model;
using Quota.Host.Relay.Protocols;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

// A non-stream reply: read whole through a PipeReader (bounded), scanned in its bytes for its usage (ReplyScanner)
// and passed on byte for byte through Response.BodyWriter. It must be a JSON object (HTML, an event stream, broken
// JSON or a read field named twice is a broken upstream → refund, 502). It is read on the upstream's clocks, not the
// client's: a client that leaves while a slow body is read does not strand the hold — the reply is still read (within
// the usage grace) and settled, or refunded.
internal sealed partial class RelayCall
{
    private async Task<IResult> CompleteAsync(HttpResponseMessage response, UpstreamDeadlines deadlines)
    {
        if (!IsJson(response))
        {
            HostLog.UpstreamInvalid(logger, request.Model, $"content type {response.Content.Headers.ContentType?.MediaType ?? "(none)"} for a JSON reply");
            return await FailAsync("the upstream answered something that is not a JSON response");
        }

        await using Stream body = await response.Content.ReadAsStreamAsync(CancellationToken.None); // headers are in: no I/O yet
        PipeReader reader = PipeReader.Create(body, UpstreamPipe);
        try
        {
            ReadResult read;
            try
            {
                read = await ReadWholeAsync(reader, ReplyBytesMax, deadlines.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException or InvalidDataException)
            {
                HostLog.UpstreamFailed(logger, request.Model, Reason(deadlines, exception));
                return await FailAsync("the upstream's response could not be read in time");
            }

            return await ReplyAsync(read.Buffer, response.Content.Headers.ContentType?.ToString() ?? "application/json");
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>Settles from the reply's usage (or its counted text) and passes its bytes on unchanged.</summary>
    private async Task<IResult> ReplyAsync(ReadOnlySequence<byte> reply, string contentType)
    {
        var tally = new UsageTally();
        try
        {
            reader.Reply(reply, tally, produced: false);
            if (tally.Output is null && request.CompletionTokens > 0)
            {
                // a second pass copies the text out: it may still find undecodable text
                reader.Reply(reply, tally, produced: true);
                tally.ProducedTokens = PromptCount.Produced(request.Price.Tokenizer, Encoding.UTF8.GetString(tally.Produced.WrittenSpan));
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidDataException)
        {
            HostLog.UpstreamInvalid(logger, request.Model, "a reply that is not a JSON object");
            return await FailAsync("the upstream answered something that is not a valid JSON response");
        }

        TokenView? view = await SettleAsync(tally);
        AddRateLimitHeaders(view);
        HttpResponse answer = context.Response;
        answer.StatusCode = StatusCodes.Status200OK;
        answer.ContentType = contentType;
        answer.ContentLength = reply.Length;
        try
        {
            foreach (ReadOnlyMemory<byte> segment in reply)
            {
                answer.BodyWriter.Write(segment.Span);
            }

            await answer.BodyWriter.FlushAsync(context.RequestAborted);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // the client left: the reply is settled all the same
        }

        return Results.Empty;
    }

    /// <summary>Reads a body to its end through <paramref name="reader"/>, without consuming it: the result holds it whole.</summary>
    private static async ValueTask<ReadResult> ReadWholeAsync(PipeReader reader, long bytesMax, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await reader.ReadAsync(cancellationToken);
            if (read.Buffer.Length > bytesMax)
            {
                throw new InvalidDataException($"the upstream's body is larger than {bytesMax} bytes");
            }

            if (read.IsCompleted)
            {
                return read;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } type &&
        (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
