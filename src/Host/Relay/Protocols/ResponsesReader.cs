using System.Buffers;
using System.Text.Json;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// OpenAI Responses replies and events (docs/relay.md "Usage per protocol"): the usage of the response object
/// (<c>input_tokens</c> with <c>input_tokens_details.cached_tokens</c>, <c>output_tokens</c> with
/// <c>output_tokens_details.reasoning_tokens</c>), in a stream from the <c>response.completed</c>,
/// <c>response.incomplete</c> or <c>response.failed</c> event — assigned, so a usage seen twice is counted once.
/// </summary>
internal sealed class ResponsesReader : ProtocolReader
{
    private static readonly byte[] Error = System.Text.Encoding.UTF8.GetBytes(
        "event: error\ndata: {\"type\":\"error\",\"code\":\"upstream_error\",\"message\":\"the upstream stream failed or timed out before it finished\",\"param\":null}\n\n");

    private static readonly string[] ProducedFields = ["text", "arguments", "name", "input", "refusal"];

    public override bool EndsWithEvent => true;

    public override ReadOnlySpan<byte> ErrorEvent => Error;

    public override void Reply(ReadOnlySequence<byte> reply, UsageTally tally, bool produced)
    {
        using JsonDocument document = UpstreamJson.Parse(reply);
        Response(document.RootElement, tally, produced);
    }

    public override void Event(ReadOnlyMemory<byte> data, UsageTally tally)
    {
        using JsonDocument document = UpstreamJson.Parse(new ReadOnlySequence<byte>(data));
        JsonElement root = document.RootElement;
        string? type = UpstreamJson.String(root, "type");
        switch (type)
        {
            case "response.completed" or "response.incomplete" or "response.failed":
                Response(UpstreamJson.Object(root, "response"), tally, produced: false);
                tally.Done = true;
                break;
            case "response.created" or "response.in_progress" or "response.queued":
                tally.ResponseId = UpstreamJson.String(UpstreamJson.Object(root, "response"), "id") ?? tally.ResponseId;
                break;
            case "response.output_item.added":
                tally.Produce(UpstreamJson.String(UpstreamJson.Object(root, "item"), "name"));
                break;
            case "error":
                throw new InvalidDataException("the upstream sent an error event");
            case not null when type.EndsWith(".delta", StringComparison.Ordinal):
                tally.Produce(UpstreamJson.String(root, "delta")); // output text, refusal, call arguments, reasoning text
                break;
        }
    }

    private static void Response(JsonElement response, UsageTally tally, bool produced)
    {
        tally.ResponseId = UpstreamJson.String(response, "id") ?? tally.ResponseId;
        JsonElement usage = UpstreamJson.Object(response, "usage");
        if (usage.ValueKind == JsonValueKind.Object)
        {
            tally.OpenAi(UpstreamJson.Tokens(usage, "input_tokens"), UpstreamJson.Tokens(UpstreamJson.Object(usage, "input_tokens_details"), "cached_tokens"),
                UpstreamJson.Tokens(usage, "output_tokens"), UpstreamJson.Tokens(UpstreamJson.Object(usage, "output_tokens_details"), "reasoning_tokens"));
        }

        if (produced && response.ValueKind == JsonValueKind.Object && response.TryGetProperty("output", out JsonElement output))
        {
            Strings(output, tally);
        }
    }

    /// <summary>The produced text of the output items: texts, call names and arguments, refusals, reasoning summaries.</summary>
    private static void Strings(JsonElement node, UsageTally tally)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in node.EnumerateArray())
            {
                Strings(item, tally);
            }
        }
        else if (node.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty property in node.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.String && Array.IndexOf(ProducedFields, property.Name) >= 0)
                {
                    tally.Produce(UpstreamJson.String(node, property.Name));
                }
                else
                {
                    Strings(property.Value, tally);
                }
            }
        }
    }
}
