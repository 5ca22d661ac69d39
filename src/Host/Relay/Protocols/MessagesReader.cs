using System.Buffers;
using System.Text.Json;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// Anthropic Messages replies and events (docs/relay.md "Usage per protocol"). Usage: <c>input_tokens</c> (uncached),
/// <c>cache_read_input_tokens</c>, <c>cache_creation_input_tokens</c> split by <c>cache_creation.ephemeral_5m_input_tokens</c>
/// / <c>ephemeral_1h_input_tokens</c>, <c>output_tokens</c>. In a stream, <c>message_start.message.usage</c> carries
/// the input side and <c>message_delta.usage</c> is cumulative: every number it carries replaces the last one (a
/// repeated input side is not added again). <c>message_start</c>'s <c>output_tokens</c> is a placeholder, not read:
/// a stream cut before its <c>message_delta</c> is charged the output it produced, counted.
/// </summary>
internal sealed class MessagesReader : ProtocolReader
{
    private static readonly byte[] Error = System.Text.Encoding.UTF8.GetBytes(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"the upstream stream failed or timed out before it finished\",\"code\":\"upstream_error\"}}\n\n");

    public override bool EndsWithEvent => true;

    public override ReadOnlySpan<byte> ErrorEvent => Error;

    public override void Reply(ReadOnlySequence<byte> reply, UsageTally tally, bool produced)
    {
        using JsonDocument document = UpstreamJson.Parse(reply);
        JsonElement root = document.RootElement;
        Usage(UpstreamJson.Object(root, "usage"), tally, output: true);
        if (produced && root.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement block in content.EnumerateArray())
            {
                Block(block, tally);
            }
        }
    }

    public override void Event(ReadOnlyMemory<byte> data, UsageTally tally)
    {
        using JsonDocument document = UpstreamJson.Parse(new ReadOnlySequence<byte>(data));
        JsonElement root = document.RootElement;
        switch (UpstreamJson.String(root, "type"))
        {
            case "message_start":
                Usage(UpstreamJson.Object(UpstreamJson.Object(root, "message"), "usage"), tally, output: false);
                break;
            case "content_block_start":
                Block(UpstreamJson.Object(root, "content_block"), tally);
                break;
            case "content_block_delta":
                JsonElement delta = UpstreamJson.Object(root, "delta");
                tally.Produce(UpstreamJson.String(delta, "text"));
                tally.Produce(UpstreamJson.String(delta, "thinking"));
                tally.Produce(UpstreamJson.String(delta, "partial_json"));
                break;
            case "message_delta":
                Usage(UpstreamJson.Object(root, "usage"), tally, output: true);
                break;
            case "message_stop":
                tally.Done = true;
                break;
            case "error":
                throw new InvalidDataException("the upstream sent an error event");
        }
    }

    /// <summary>A content block's text: text, thinking, a tool call's name and input.</summary>
    private static void Block(JsonElement block, UsageTally tally)
    {
        tally.Produce(UpstreamJson.String(block, "text"));
        tally.Produce(UpstreamJson.String(block, "thinking"));
        tally.Produce(UpstreamJson.String(block, "name"));
        if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("input", out JsonElement input) && input.ValueKind == JsonValueKind.Object && input.EnumerateObject().Any())
        {
            tally.Produce(input.GetRawText());
        }
    }

    /// <summary>Every number present replaces the known one (cumulative usage: the last value wins).</summary>
    private static void Usage(JsonElement usage, UsageTally tally, bool output)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        tally.Input = UpstreamJson.Tokens(usage, "input_tokens") ?? tally.Input;
        tally.CacheRead = UpstreamJson.Tokens(usage, "cache_read_input_tokens") ?? tally.CacheRead;
        long? written = UpstreamJson.Tokens(usage, "cache_creation_input_tokens");
        JsonElement split = UpstreamJson.Object(usage, "cache_creation");
        long? fiveMinutes = UpstreamJson.Tokens(split, "ephemeral_5m_input_tokens"), oneHour = UpstreamJson.Tokens(split, "ephemeral_1h_input_tokens");
        if (fiveMinutes is not null || oneHour is not null)
        {
            // The breakdown decides the price; a total above it is charged at the 5-minute price, never dropped.
            long hour = oneHour ?? 0;
            tally.CacheWrite1h = hour;
            tally.CacheWrite5m = Math.Max(fiveMinutes ?? 0, written is { } total && total > hour ? total - hour : 0);
        }
        else if (written is { } total)
        {
            // A total without a breakdown (all 5-minute writes, or a later event repeating only the total): the 1-hour
            // part already known keeps its price, never silently re-priced at the 5-minute rate.
            long hour = Math.Min(tally.CacheWrite1h ?? 0, total);
            tally.CacheWrite1h = hour;
            tally.CacheWrite5m = total - hour;
        }

        if (output && UpstreamJson.Tokens(usage, "output_tokens") is { } produced)
        {
            tally.Output = produced;
            tally.Reasoning = 0; // Anthropic counts thinking as output and does not report it apart
        }
    }
}
