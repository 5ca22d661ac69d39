using System.Text;
using System.Text.Json.Nodes;

namespace Quota.Host.Relay;

/// <summary>
/// A deterministic OpenAI-compatible responder: the built-in demo upstream (when no upstream is configured) and the
/// core of tools/FakeUpstream. Completions repeat a fixed sentence up to max_tokens (one token per word), report
/// usage, and stream as SSE chunks with a final usage chunk when stream_options.include_usage is set.
/// </summary>
public static class FakeOpenAi
{
    private static readonly string[] Words = "This is a deterministic reply from the demo upstream of the quota engine .".Split(' ');

    public static int DefaultCompletionTokens { get; set; } = 12;

    /// <summary>The response to <paramref name="path"/> ("chat/completions", "embeddings", "models").</summary>
    public static (int Status, string ContentType, IEnumerable<string> Chunks) Respond(string path, JsonObject? request)
    {
        string model = request?["model"]?.GetValue<string>() ?? "demo";
        long promptTokens = (Pricing.TextLength(request?["input"]) + Messages(request) + 3) / 4;
        if (path.EndsWith("embeddings", StringComparison.Ordinal))
        {
            string body = new JsonObject
            {
                ["object"] = "list",
                ["model"] = model,
                ["data"] = new JsonArray(new JsonObject { ["object"] = "embedding", ["index"] = 0, ["embedding"] = Embedding(request) }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["total_tokens"] = promptTokens },
            }.ToJsonString();
            return (200, "application/json", [body]);
        }

        if (!path.EndsWith("chat/completions", StringComparison.Ordinal))
        {
            return (404, "application/json", ["{\"error\":{\"message\":\"unknown path\",\"type\":\"invalid_request_error\",\"code\":\"not_found\"}}"]);
        }

        int completionTokens = (int)Math.Min(request?["max_tokens"]?.GetValue<long>() ?? request?["max_completion_tokens"]?.GetValue<long>() ?? DefaultCompletionTokens, 4096);
        string[] words = Enumerable.Range(0, completionTokens).Select(i => Words[i % Words.Length]).ToArray();
        var usage = new JsonObject { ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens };
        if (request?["stream"]?.GetValue<bool>() != true)
        {
            string body = new JsonObject
            {
                ["id"] = "chatcmpl-demo",
                ["object"] = "chat.completion",
                ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = string.Join(' ', words) },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = usage,
            }.ToJsonString();
            return (200, "application/json", [body]);
        }

        bool includeUsage = request["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
        return (200, "text/event-stream", StreamChunks(model, words, includeUsage ? usage : null));
    }

    private static IEnumerable<string> StreamChunks(string model, string[] words, JsonObject? usage)
    {
        for (int i = 0; i < words.Length; i++)
        {
            var delta = new JsonObject { ["content"] = (i == 0 ? "" : " ") + words[i] };
            yield return Sse(new JsonObject { ["id"] = "chatcmpl-demo", ["object"] = "chat.completion.chunk", ["model"] = model, ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta }) });
        }

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
        return request?["encoding_format"]?.GetValue<string>() == "base64"
            ? JsonValue.Create(Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan())))
            : new JsonArray(vector.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
    }

    private static string Sse(JsonObject chunk) => "data: " + chunk.ToJsonString() + "\n\n";

    private static long Messages(JsonObject? request) =>
        request?["messages"] is JsonArray messages ? messages.Sum(m => Pricing.TextLength(m?["content"])) : 0;
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
