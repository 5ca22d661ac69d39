using System.Text;
using System.Text.Json.Nodes;

namespace Quota.Host.Relay;

/// <summary>
/// A deterministic OpenAI-compatible responder (Anthropic Messages and OpenAI Responses: <see cref="Protocols.FakeProtocols"/>): the built-in demo upstream (when no upstream is configured) and the
/// core of tools/FakeUpstream. It bills like a provider: prompts counted with a real tokenizer over a rendering of
/// each message (its strings joined by newlines, 3 tokens of overhead), schemas as JSON, images at 765 tokens;
/// completions repeat a fixed sentence (one token per word) up to <c>max_tokens</c> (else
/// <c>max_completion_tokens</c>, else <see cref="DefaultCompletionTokens"/>) for each of <c>n</c> choices; streams are
/// SSE chunks with a final usage chunk when stream_options.include_usage is set.
/// </summary>
public static class FakeOpenAi
{
    /// <summary>What the fake bills per image part (OpenAI's high-detail 512 px tile price, rounded up).</summary>
    public const long ImageTokens = 765;
    private const int CompletionTokensMax = 4096;
    private static readonly string[] Words = "This is a deterministic reply from the demo upstream of the quota engine .".Split(' ');
    private static readonly string[] SchemaFields = ["tools", "functions", "response_format", "tool_choice", "prediction"];

    public static int DefaultCompletionTokens { get; set; } = 12;

    /// <summary>The response to <paramref name="path"/> ("chat/completions", "embeddings"), prompts counted in <paramref name="encoding"/>.</summary>
    public static (int Status, string ContentType, IEnumerable<string> Chunks) Respond(string path, JsonObject? request, string encoding = TokenCounter.DefaultEncoding)
    {
        if (request is not null && path.EndsWith("messages/count_tokens", StringComparison.Ordinal))
        {
            return Protocols.FakeProtocols.CountTokens(request, encoding);
        }

        if (request is not null && path.EndsWith("messages", StringComparison.Ordinal))
        {
            return Protocols.FakeProtocols.Messages(request, encoding);
        }

        if (request is not null && path.EndsWith("responses", StringComparison.Ordinal))
        {
            return Protocols.FakeProtocols.Responses(request, encoding);
        }

        string model = request?["model"] is JsonValue m && m.TryGetValue(out string? name) ? name : "demo";
        if (path.EndsWith("embeddings", StringComparison.Ordinal))
        {
            long inputTokens = request?["input"] is { } input ? TokenCounter.Count(encoding, string.Join('\n', Strings(input))) : 0;
            string body = new JsonObject
            {
                ["object"] = "list",
                ["model"] = model,
                ["data"] = new JsonArray(new JsonObject { ["object"] = "embedding", ["index"] = 0, ["embedding"] = Embedding(request) }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = inputTokens, ["total_tokens"] = inputTokens },
            }.ToJsonString();
            return (200, "application/json", [body]);
        }

        if (!path.EndsWith("chat/completions", StringComparison.Ordinal) || request is null)
        {
            return (404, "application/json", ["{\"error\":{\"message\":\"unknown path\",\"type\":\"invalid_request_error\",\"code\":\"not_found\"}}"]);
        }

        long promptTokens = Prompt(request, encoding);
        int perChoice = (int)Math.Min(Integer(request["max_tokens"]) ?? Integer(request["max_completion_tokens"]) ?? DefaultCompletionTokens, CompletionTokensMax);
        int choices = (int)Math.Clamp(Integer(request["n"]) ?? 1, 1, 128);
        string[] words = Enumerable.Range(0, perChoice).Select(i => Words[i % Words.Length]).ToArray();
        long completionTokens = (long)perChoice * choices;
        var usage = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens };
        if (request["stream"] is not JsonValue s || !s.TryGetValue(out bool stream) || !stream)
        {
            var list = new JsonArray();
            for (int i = 0; i < choices; i++)
            {
                list.Add(new JsonObject
                {
                    ["index"] = i,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = string.Join(' ', words) },
                    ["finish_reason"] = "stop",
                });
            }

            string body = new JsonObject { ["id"] = "chatcmpl-demo", ["object"] = "chat.completion", ["model"] = model, ["choices"] = list, ["usage"] = usage }.ToJsonString();
            return (200, "application/json", [body]);
        }

        bool includeUsage = request["stream_options"]?["include_usage"] is JsonValue u && u.TryGetValue(out bool include) && include;
        return (200, "text/event-stream", StreamChunks(model, words, choices, includeUsage ? usage : null));
    }

    private static IEnumerable<string> StreamChunks(string model, string[] words, int choices, JsonObject? usage)
    {
        for (int i = 0; i < words.Length; i++)
        {
            var list = new JsonArray();
            for (int c = 0; c < choices; c++)
            {
                list.Add(new JsonObject { ["index"] = c, ["delta"] = new JsonObject { ["content"] = (i == 0 ? "" : " ") + words[i] } });
            }

            yield return Sse(new JsonObject { ["id"] = "chatcmpl-demo", ["object"] = "chat.completion.chunk", ["model"] = model, ["choices"] = list });
        }

        yield return Sse(new JsonObject
        {
            ["id"] = "chatcmpl-demo",
            ["object"] = "chat.completion.chunk",
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject(), ["finish_reason"] = "stop" }),
        });
        if (usage is not null)
        {
            yield return Sse(new JsonObject { ["id"] = "chatcmpl-demo", ["object"] = "chat.completion.chunk", ["model"] = model, ["choices"] = new JsonArray(), ["usage"] = usage });
        }

        yield return "data: [DONE]\n\n";
    }

    /// <summary>A fixed vector, as floats or — when asked, as the official SDKs do by default — base64 of little-endian float32.</summary>
    private static JsonNode Embedding(JsonObject? request)
    {
        float[] vector = [0.1f, 0.2f, 0.3f, 0.4f];
        return request?["encoding_format"] is JsonValue format && format.TryGetValue(out string? encoding) && encoding == "base64"
            ? JsonValue.Create(Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan())))
            : new JsonArray(vector.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
    }

    private static string Sse(JsonObject chunk) => "data: " + chunk.ToJsonString() + "\n\n";

    /// <summary>The provider's count: each message rendered as its strings joined by newlines plus 3 tokens, 3 to prime the reply.</summary>
    private static long Prompt(JsonObject request, string encoding)
    {
        long tokens = 3, images = 0;
        if (request["messages"] is JsonArray messages)
        {
            foreach (JsonNode? message in messages)
            {
                var rendered = new StringBuilder();
                foreach (string text in Strings(message, part => images += IsImage(part) ? 1 : 0))
                {
                    rendered.Append(text).Append('\n');
                }

                tokens += 3 + TokenCounter.Count(encoding, rendered.ToString().TrimEnd('\n'));
            }
        }

        foreach (string field in SchemaFields)
        {
            if (request[field] is { } schema)
            {
                tokens += TokenCounter.Count(encoding, schema.ToJsonString());
            }
        }

        return tokens + (images * ImageTokens);
    }

    private static bool IsImage(JsonObject part) =>
        part["type"] is JsonValue type && type.TryGetValue(out string? kind) && kind is "image_url" or "input_image" or "image";

    /// <summary>Every string (and number) under <paramref name="node"/>, skipping the parts <paramref name="skip"/> reports as images.</summary>
    private static IEnumerable<string> Strings(JsonNode? node, Action<JsonObject>? skip = null)
    {
        switch (node)
        {
            case JsonObject part when skip is not null && IsImage(part) && part.Parent is JsonArray:
                skip(part);
                yield break;
            case JsonObject fields:
                foreach (KeyValuePair<string, JsonNode?> field in fields)
                {
                    foreach (string text in Strings(field.Value, skip))
                    {
                        yield return text;
                    }
                }

                break;
            case JsonArray items:
                foreach (JsonNode? item in items)
                {
                    foreach (string text in Strings(item, skip))
                    {
                        yield return text;
                    }
                }

                break;
            case JsonValue value when value.TryGetValue(out string? text):
                yield return text;
                break;
            case JsonValue other:
                yield return other.ToJsonString();
                break;
        }
    }

    private static long? Integer(JsonNode? node) => JsonNumbers.TryGetIntegral(node, out long value) ? value : null;
}

/// <summary>The built-in demo upstream as an in-process HTTP handler (no network).</summary>
public sealed class DemoUpstreamHandler : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        JsonObject? body = request.Content is null ? null : JsonNode.Parse(await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)) as JsonObject;
        (int status, string contentType, IEnumerable<string> chunks) = FakeOpenAi.Respond(request.RequestUri!.AbsolutePath, body);
        return new HttpResponseMessage((System.Net.HttpStatusCode)status)
        {
            Content = new StringContent(string.Concat(chunks), Encoding.UTF8, contentType),
        };
    }
}
