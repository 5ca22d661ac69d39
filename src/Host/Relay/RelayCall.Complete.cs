using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

// A non-stream reply: it must be a JSON object (HTML, an event stream or broken JSON is a broken upstream →
// refund, 502). It is read on the upstream's clocks, not the client's: a client that leaves while a slow body is
// read does not strand the hold — the reply is still read (within the usage grace) and settled, or refunded.
internal sealed partial class RelayCall
{
    private async Task<IResult> CompleteAsync(HttpResponseMessage response, UpstreamDeadlines deadlines)
    {
        if (!IsJson(response))
        {
            HostLog.UpstreamInvalid(logger, request.Model, $"content type {response.Content.Headers.ContentType?.MediaType ?? "(none)"} for a JSON reply");
            return await FailAsync("the upstream answered something that is not a JSON response");
        }

        string body;
        try
        {
            body = await ReadBoundedAsync(response, ReplyBytesMax, deadlines.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException or InvalidDataException)
        {
            HostLog.UpstreamFailed(logger, request.Model, Reason(deadlines, exception));
            return await FailAsync("the upstream's response could not be read in time");
        }

        JsonObject? reply;
        try
        {
            reply = JsonNode.Parse(body, documentOptions: UpstreamJson) as JsonObject;
        }
        catch (JsonException)
        {
            reply = null;
        }

        if (reply is null)
        {
            HostLog.UpstreamInvalid(logger, request.Model, "a reply that is not a JSON object");
            return await FailAsync("the upstream answered something that is not a valid JSON response");
        }

        // Every part of an upstream reply is read by its shape (as JsonObject/JsonArray): the string indexer throws on an
        // array or a value, and an exception here was a 500 and a refund of work the upstream did.
        JsonObject? usage = reply["usage"] as JsonObject;
        long prompt = JsonNumbers.Tokens(usage?["prompt_tokens"]) ?? request.PromptTokens;
        long? reported = JsonNumbers.Tokens(usage?["completion_tokens"]);
        long completion = reported ?? (request.CompletionTokens == 0 ? 0 : PromptCount.Produced(request.Price.Tokenizer, ProducedText(reply)));
        TokenView? view = await SettleAsync(prompt, completion, counted: reported is null && request.CompletionTokens > 0);
        AddRateLimitHeaders(view);
        return Results.Content(body, response.Content.Headers.ContentType?.ToString() ?? "application/json");
    }

    /// <summary>What a completion produced: message contents, refusals, tool-call names and arguments of every choice.</summary>
    private static string ProducedText(JsonObject reply)
    {
        var text = new StringBuilder();
        if (reply["choices"] is JsonArray choices)
        {
            foreach (JsonNode? choice in choices)
            {
                AppendProduced(text, (choice as JsonObject)?["message"]);
            }
        }

        return text.ToString();
    }

    /// <summary>Appends the produced text of a message (non-stream) or a delta (stream).</summary>
    private static void AppendProduced(StringBuilder text, JsonNode? message)
    {
        if (message is not JsonObject fields)
        {
            return;
        }

        AppendString(text, fields["content"]);
        AppendString(text, fields["refusal"]);
        AppendString(text, fields["reasoning_content"]);
        if (fields["tool_calls"] is JsonArray calls)
        {
            foreach (JsonNode? call in calls)
            {
                JsonObject? function = (call as JsonObject)?["function"] as JsonObject;
                AppendString(text, function?["name"]);
                AppendString(text, function?["arguments"]);
            }
        }

        JsonObject? functionCall = fields["function_call"] as JsonObject;
        AppendString(text, functionCall?["name"]);
        AppendString(text, functionCall?["arguments"]);
    }

    private static void AppendString(StringBuilder text, JsonNode? node)
    {
        if (node is JsonValue value && value.TryGetValue(out string? s))
        {
            text.Append(s);
        }
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } type &&
        (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
