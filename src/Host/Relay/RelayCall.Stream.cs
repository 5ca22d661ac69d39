using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

// A stream: passed on line by line (never buffered whole), each line re-terminated with LF. Accounting reads the
// events per the SSE specification (SseReader). The usage chunk wins; without one, what was produced is counted
// with the model's tokenizer. When the client leaves, the upstream is still read (without writing) for its usage,
// for at most the usage grace. A stream that fails after it started (broken event, upstream cut, idle or whole
// timeout) is settled for what it produced — refunded if it produced nothing — and ends with an error event.
internal sealed partial class RelayCall
{
    /// <summary>Produced text is counted in pieces of this many characters, so a long stream holds no more than this.</summary>
    private const int ProducedCharsPerCount = 64 * 1024;

    private sealed class StreamTally
    {
        public long? Prompt, Completion;
        public long ProducedTokens;
        public readonly StringBuilder Produced = new();
        public bool Done;
    }

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
        var tally = new StreamTally();
        string? failure = null;
        try
        {
            await using Stream body = await response.Content.ReadAsStreamAsync(deadlines.Token);
            using var reader = new SseReader(body);
            await PumpAsync(reader, tally, deadlines);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException or InvalidDataException or JsonException)
        {
            failure = Reason(deadlines, exception);
        }

        if (failure is not null)
        {
            HostLog.StreamFailed(logger, request.Model, failure);
            await WriteErrorEventAsync(deadlines);
        }

        tally.ProducedTokens += PromptCount.Produced(request.Price.Tokenizer, tally.Produced.ToString());
        if (tally.Completion is null && failure is not null && tally.ProducedTokens == 0)
        {
            await RefundAsync(); // failed before producing anything
        }
        else
        {
            await SettleAsync(tally.Prompt ?? request.PromptTokens, tally.Completion ?? tally.ProducedTokens, counted: tally.Completion is null);
        }

        return Results.Empty;
    }

    private async Task PumpAsync(SseReader reader, StreamTally tally, UpstreamDeadlines deadlines)
    {
        while (!tally.Done)
        {
            deadlines.Touch();
            string? line = await reader.ReadLineAsync(deadlines.Token);
            if (line is not null)
            {
                await ForwardAsync(line, deadlines);
            }

            if (reader.Accept(line) is { } data)
            {
                Tally(data, tally);
            }

            if (line is null)
            {
                return;
            }
        }
    }

    /// <summary>Writes one line to the client, unless it has left (then the upstream is read to its usage only).</summary>
    private async Task ForwardAsync(string line, UpstreamDeadlines deadlines)
    {
        if (deadlines.ClientIsGone)
        {
            return;
        }

        try
        {
            await context.Response.WriteAsync(line + "\n", context.RequestAborted);
            if (line.Length == 0)
            {
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException)
        {
            deadlines.ClientLeft();
        }
    }

    /// <summary>Accounts one event: the usage chunk, the produced text, or the end marker. Broken JSON throws.</summary>
    private void Tally(string data, StreamTally tally)
    {
        if (data == "[DONE]")
        {
            tally.Done = true;
            return;
        }

        if (JsonNode.Parse(data, documentOptions: UpstreamJson) is not JsonObject chunk)
        {
            throw new InvalidDataException("an event that is not a JSON object");
        }

        if (chunk["error"] is JsonObject)
        {
            throw new InvalidDataException("the upstream sent an error event");
        }

        if (chunk["usage"] is JsonObject usage)
        {
            tally.Prompt = JsonNumbers.Tokens(usage["prompt_tokens"]) ?? tally.Prompt;
            tally.Completion = JsonNumbers.Tokens(usage["completion_tokens"]) ?? tally.Completion;
        }

        if (chunk["choices"] is JsonArray choices)
        {
            foreach (JsonNode? choice in choices)
            {
                AppendProduced(tally.Produced, (choice as JsonObject)?["delta"]); // by shape, as a reply's parts
            }
        }

        if (tally.Produced.Length >= ProducedCharsPerCount)
        {
            // counted in pieces: a long stream holds a bounded buffer (a piece boundary may split one token in two)
            tally.ProducedTokens += PromptCount.Produced(request.Price.Tokenizer, tally.Produced.ToString());
            tally.Produced.Clear();
        }
    }

    private async Task WriteErrorEventAsync(UpstreamDeadlines deadlines)
    {
        if (deadlines.ClientIsGone)
        {
            return;
        }

        string error = new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = "the upstream stream failed or timed out before it finished",
                ["type"] = "upstream_error",
                ["param"] = null,
                ["code"] = "upstream_error",
            },
        }.ToJsonString();
        try
        {
            await context.Response.WriteAsync("data: " + error + "\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // the client left meanwhile: nothing to tell it
        }
    }
}
