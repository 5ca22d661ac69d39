using System.Text.Json.Nodes;

namespace Quota.Host.Tests.Relay;

/// <summary>Varied chat bodies for measuring how far an actual can exceed its estimate (scripts, code, schemas, images, tool calls, caps).</summary>
internal static class OverrunCorpus
{
    /// <summary>
    /// How many more tokens <paramref name="provider"/> counts than <paramref name="relay"/> over the billable text of a
    /// body (every string of its messages, and its schemas as JSON): the overrun a tokenizer mismatch can cause.
    /// </summary>
    public static long Disagreement(string body, string provider, string relay)
    {
        JsonObject request = JsonNode.Parse(body)!.AsObject();
        long difference = 0;
        foreach (string text in Strings(request["messages"]))
        {
            difference += Host.Relay.TokenCounter.Count(provider, text) - Host.Relay.TokenCounter.Count(relay, text);
        }

        foreach (string field in new[] { "tools", "functions", "response_format", "tool_choice", "prediction" })
        {
            if (request[field] is { } schema)
            {
                difference += Host.Relay.TokenCounter.Count(provider, schema.ToJsonString()) - Host.Relay.TokenCounter.Count(relay, schema.ToJsonString());
            }
        }

        return difference;
    }

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v when v.TryGetValue(out string? s) => [s],
        _ => [],
    };

    private static readonly string[] Texts =
    [
        "Hello!",
        string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog while the quota engine keeps count. ", 40)),
        string.Concat(Enumerable.Repeat("配额引擎精确地记录每一个请求的用量，并在窗口结束时自动恢复。", 30)),
        string.Concat(Enumerable.Repeat("🚀🔥✨👩‍💻🧪 ", 80)),
        "def reserve(engine, key, amount):\n    outcome = engine.reserve(key, amount)\n    if not outcome.ok:\n        raise QuotaError(outcome)\n    return outcome.id\n" + new string(' ', 64) + "# end",
        string.Concat(Enumerable.Repeat("1234567890 3.14159 2718281828 ", 60)),
        string.Concat(Enumerable.Repeat("    \n\n\t  ", 100)),
        new string('a', 5000),
        string.Concat(Enumerable.Repeat("Квота исчерпана; ожидается автоматическое восстановление. الحصة مستنفدة. ", 25)),
        "aGVsbG8gd29ybGQ=" + string.Concat(Enumerable.Range(0, 300).Select(i => ((char)('A' + (i * 7 % 26))).ToString() + (i % 10))),
        """{"nested":{"json":[1,2,3,{"deep":"value"}],"flag":true,"text":"inside a message"}}""",
        "<|endoftext|><|im_start|>system<|im_end|> special-token text as plain text",
        string.Concat(Enumerable.Repeat("https://example.invalid/path/to/resource?query=1&other=two#frag ", 30)),
        string.Concat(Enumerable.Repeat("कोटा समाप्त हो गया है। โควต้าหมดแล้ว ", 40)),
    ];

    public static string[] Bodies()
    {
        var bodies = new List<string>();
        foreach (string text in Texts)
        {
            bodies.Add(Chat(User(text)).ToJsonString());
        }

        bodies.Add(Chat(new JsonObject
        {
            ["role"] = "user",
            ["name"] = "alice_01",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "text", ["text"] = "What is in these images?" },
                new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64," + new string('Q', 4000), ["detail"] = "high" } },
                new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "https://example.invalid/b.png" } },
                new JsonObject { ["type"] = "text", ["text"] = "Compare them." }),
        }).ToJsonString());
        bodies.Add(Chat(
            new JsonObject { ["role"] = "system", ["content"] = "You call tools." },
            User("Weather in Berlin and Paris?"),
            new JsonObject
            {
                ["role"] = "assistant",
                ["content"] = null,
                ["tool_calls"] = new JsonArray(
                    ToolCall("call_1", "get_weather", """{"city":"Berlin","unit":"celsius"}"""),
                    ToolCall("call_2", "get_weather", """{"city":"Paris","unit":"celsius"}""")),
            },
            new JsonObject { ["role"] = "tool", ["tool_call_id"] = "call_1", ["content"] = """{"temp":21}""" },
            new JsonObject { ["role"] = "tool", ["tool_call_id"] = "call_2", ["content"] = """{"temp":24}""" }).ToJsonString());

        JsonObject tools = Chat(User("Store this record."));
        tools["tools"] = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject
            {
                ["name"] = "store_record",
                ["description"] = "Stores a customer record with many optional fields.",
                ["parameters"] = JsonNode.Parse("""{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"type":"string"}},"address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string"}}}},"required":["name"]}"""),
            },
        });
        tools["tool_choice"] = "auto";
        bodies.Add(tools.ToJsonString());

        JsonObject functions = Chat(User("Call the legacy function."));
        functions["functions"] = JsonNode.Parse("""[{"name":"lookup","description":"Looks a thing up.","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]""");
        functions["function_call"] = JsonNode.Parse("""{"name":"lookup"}""");
        bodies.Add(functions.ToJsonString());

        JsonObject format = Chat(User("Answer as JSON."));
        format["response_format"] = JsonNode.Parse("""{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer"]}}}""");
        bodies.Add(format.ToJsonString());

        JsonObject choices = Chat(User("Give me three options."));
        choices["n"] = 3;
        choices["max_tokens"] = 5;
        bodies.Add(choices.ToJsonString());

        JsonObject caps = Chat(User("Short please."));
        caps["max_completion_tokens"] = 3;
        caps["max_tokens"] = 100;
        bodies.Add(caps.ToJsonString());

        JsonObject prediction = Chat(User("Rewrite this."));
        prediction["prediction"] = JsonNode.Parse("""{"type":"content","content":"The rewritten text will look much like this one."}""");
        bodies.Add(prediction.ToJsonString());

        JsonObject defaults = Chat(User("No cap at all: the default cap applies."));
        defaults.Remove("max_tokens");
        defaults["input"] = null;
        bodies.Add(defaults.ToJsonString());
        return [.. bodies];
    }

    private static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

    private static JsonObject ToolCall(string id, string name, string arguments) =>
        new() { ["id"] = id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments } };

    private static JsonObject Chat(params JsonObject[] messages) =>
        new() { ["model"] = "tok", ["max_tokens"] = 16, ["messages"] = new JsonArray(messages) };
}
