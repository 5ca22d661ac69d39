using System.Text.Json.Nodes;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// The demo upstream's (and tools/FakeUpstream's) Anthropic Messages and OpenAI Responses answers, in the shapes the
/// providers document: a prompt counted with a real tokenizer over every string of the request (plus images at
/// <see cref="FakeOpenAi.ImageTokens"/>), a reply of one token per word, at most <see cref="FakeOpenAi.DefaultCompletionTokens"/>
/// words and never more than the request's cap; streams as the providers' event sequences, with usage where they put it
/// (Messages: input side in <c>message_start</c>, cumulative <c>message_delta</c> repeating it; Responses: <c>response.completed</c>).
/// </summary>
public static class FakeProtocols
{
    private static readonly string[] Words = "This is a deterministic reply from the demo upstream of the quota engine .".Split(' ');

    public static (int Status, string ContentType, IEnumerable<string> Chunks) Messages(JsonObject request, string encoding)
    {
        string model = Text(request["model"]) ?? "demo";
        long input = Prompt(request, encoding, "system", "messages", "tools", "tool_choice");
        string[] words = Reply(request["max_tokens"]);
        var usage = new JsonObject { ["input_tokens"] = input, ["cache_creation_input_tokens"] = 0, ["cache_read_input_tokens"] = 0, ["output_tokens"] = words.Length };
        if (!Streams(request))
        {
            return (200, "application/json", [new JsonObject
            {
                ["id"] = "msg_demo", ["type"] = "message", ["role"] = "assistant", ["model"] = model,
                ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = string.Join(' ', words) }),
                ["stop_reason"] = "end_turn", ["stop_sequence"] = null, ["usage"] = usage,
            }.ToJsonString()]);
        }

        var start = (JsonObject)usage.DeepClone();
        start["output_tokens"] = 1;
        var events = new List<string>
        {
            Event("message_start", new JsonObject
            {
                ["type"] = "message_start",
                ["message"] = new JsonObject
                {
                    ["id"] = "msg_demo", ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                    ["stop_reason"] = null, ["stop_sequence"] = null, ["usage"] = start,
                },
            }),
            Event("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } }),
            Event("ping", new JsonObject { ["type"] = "ping" }),
        };
        for (int i = 0; i < words.Length; i++)
        {
            events.Add(Event("content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta", ["index"] = 0, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = (i == 0 ? "" : " ") + words[i] },
            }));
        }

        events.Add(Event("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 }));
        events.Add(Event("message_delta", new JsonObject
        {
            ["type"] = "message_delta", ["delta"] = new JsonObject { ["stop_reason"] = "end_turn", ["stop_sequence"] = null }, ["usage"] = usage,
        }));
        events.Add(Event("message_stop", new JsonObject { ["type"] = "message_stop" }));
        return (200, "text/event-stream", events);
    }

    public static (int Status, string ContentType, IEnumerable<string> Chunks) CountTokens(JsonObject request, string encoding) =>
        (200, "application/json", [new JsonObject { ["input_tokens"] = Prompt(request, encoding, "system", "messages", "tools", "tool_choice") }.ToJsonString()]);

    public static (int Status, string ContentType, IEnumerable<string> Chunks) Responses(JsonObject request, string encoding)
    {
        string model = Text(request["model"]) ?? "demo";
        long input = Prompt(request, encoding, "instructions", "input", "tools", "tool_choice", "text");
        string[] words = Reply(request["max_output_tokens"]);
        var usage = new JsonObject
        {
            ["input_tokens"] = input, ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
            ["output_tokens"] = words.Length, ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
            ["total_tokens"] = input + words.Length,
        };
        string id = "resp_demo_" + Guid.NewGuid().ToString("N");
        JsonObject Response(string status, JsonNode? withUsage, JsonArray output) => new()
        {
            ["id"] = id, ["object"] = "response", ["created_at"] = 1_700_000_000, ["status"] = status, ["model"] = model,
            ["output"] = output, ["usage"] = withUsage, ["error"] = null, ["incomplete_details"] = null,
        };
        JsonObject Message() => new()
        {
            ["id"] = "msg_demo", ["type"] = "message", ["status"] = "completed", ["role"] = "assistant",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = string.Join(' ', words), ["annotations"] = new JsonArray() }),
        };
        if (!Streams(request))
        {
            return (200, "application/json", [Response("completed", usage, new JsonArray(Message())).ToJsonString()]);
        }

        int sequence = 0;
        var events = new List<string>
        {
            Event("response.created", new JsonObject { ["type"] = "response.created", ["sequence_number"] = sequence++, ["response"] = Response("in_progress", null, []) }),
            Event("response.output_item.added", new JsonObject
            {
                ["type"] = "response.output_item.added", ["sequence_number"] = sequence++, ["output_index"] = 0,
                ["item"] = new JsonObject { ["id"] = "msg_demo", ["type"] = "message", ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() },
            }),
        };
        for (int i = 0; i < words.Length; i++)
        {
            events.Add(Event("response.output_text.delta", new JsonObject
            {
                ["type"] = "response.output_text.delta", ["sequence_number"] = sequence++, ["item_id"] = "msg_demo", ["output_index"] = 0, ["content_index"] = 0,
                ["delta"] = (i == 0 ? "" : " ") + words[i],
            }));
        }

        events.Add(Event("response.output_item.done", new JsonObject { ["type"] = "response.output_item.done", ["sequence_number"] = sequence++, ["output_index"] = 0, ["item"] = Message() }));
        events.Add(Event("response.completed", new JsonObject { ["type"] = "response.completed", ["sequence_number"] = sequence, ["response"] = Response("completed", usage, new JsonArray(Message())) }));
        return (200, "text/event-stream", events);
    }

    private static string[] Reply(JsonNode? cap)
    {
        long words = Math.Min(JsonNumbers.TryGetIntegral(cap, out long c) && c > 0 ? c : FakeOpenAi.DefaultCompletionTokens, FakeOpenAi.DefaultCompletionTokens);
        return Enumerable.Range(0, (int)words).Select(i => Words[i % Words.Length]).ToArray();
    }

    /// <summary>Every string of the named fields joined by newlines, in <paramref name="encoding"/>, plus images.</summary>
    private static long Prompt(JsonObject request, string encoding, params string[] fields)
    {
        long images = 0;
        var text = new System.Text.StringBuilder();
        foreach (string field in fields)
        {
            Collect(request[field], text, ref images);
        }

        return TokenCounter.Count(encoding, text.ToString()) + (images * FakeOpenAi.ImageTokens);
    }

    private static void Collect(JsonNode? node, System.Text.StringBuilder text, ref long images)
    {
        switch (node)
        {
            case JsonObject part when Text(part["type"]) is "image" or "input_image":
                images++;
                break;
            case JsonObject fields:
                foreach (KeyValuePair<string, JsonNode?> field in fields)
                {
                    Collect(field.Value, text, ref images);
                }

                break;
            case JsonArray items:
                foreach (JsonNode? item in items)
                {
                    Collect(item, text, ref images);
                }

                break;
            case JsonValue value:
                text.Append(Text(value) ?? value.ToJsonString()).Append('\n');
                break;
        }
    }

    private static bool Streams(JsonObject request) => request["stream"] is JsonValue s && s.TryGetValue(out bool stream) && stream;

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    private static string Event(string name, JsonObject data) => $"event: {name}\ndata: {data.ToJsonString()}\n\n";
}
