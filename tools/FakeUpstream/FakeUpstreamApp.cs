using System.Text.Json.Nodes;
using Quota.Host.Relay;

namespace Quota.FakeUpstream;

/// <summary>The fake upstream's settings (section <c>Fake</c>).</summary>
public sealed class FakeOptions
{
    /// <summary>Delay before each response (and between stream chunks: a tenth of it).</summary>
    public int LatencyMs { get; set; }
    /// <summary>Every Nth request gets a 500 (0: never).</summary>
    public int FailEvery { get; set; }
    /// <summary>The status of an injected failure (500 by default; 429 to play a provider's rate limit).</summary>
    public int FailStatus { get; set; } = 500;
    /// <summary>Retry-After sent with an injected failure (empty: none).</summary>
    public string FailRetryAfter { get; set; } = "";
    /// <summary>Ignore stream_options.include_usage, as some providers do.</summary>
    public bool OmitStreamUsage { get; set; }
    /// <summary>The tokenizer the fake bills prompts with (a provider's may differ from the relay's).</summary>
    public string Tokenizer { get; set; } = TokenCounter.DefaultEncoding;
    /// <summary>One way to misbehave on every completion (see <see cref="Misbehaviour"/>); empty: behave.</summary>
    public string Misbehave { get; set; } = "";
    /// <summary>How long <c>stall</c>, <c>slow_body</c> and <c>late_usage</c> wait.</summary>
    public int StallMs { get; set; } = 30_000;
    /// <summary>Delay between stream chunks.</summary>
    public int ChunkDelayMs { get; set; }
    /// <summary>
    /// A folder of recorded replies: a request whose <c>metadata.replay</c> names one (<c>NAME.sse</c>, an event
    /// stream, or <c>NAME.json</c>) is answered with that file as it is (the conformance corpus).
    /// </summary>
    public string ReplayDir { get; set; } = "";
}

public static class FakeUpstreamApp
{
    public static WebApplication Build(string[] args)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        FakeOptions options = builder.Configuration.GetSection("Fake").Get<FakeOptions>() ?? new FakeOptions();
        WebApplication app = builder.Build();
        long requests = 0, reportedInput = 0, reportedOutput = 0;
        Dictionary<string, string> last = [];
        app.Map("/v1/{**path}", async (HttpContext context, string path) =>
        {
            context.Response.Headers["X-Fake-Request"] = Interlocked.Increment(ref requests).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var seen = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            seen[":path"] = context.Request.Path + context.Request.QueryString;
            Volatile.Write(ref last, seen);
            if (options.LatencyMs > 0)
            {
                await Task.Delay(options.LatencyMs, context.RequestAborted);
            }

            if (options.FailEvery > 0 && Volatile.Read(ref requests) % options.FailEvery == 0)
            {
                context.Response.StatusCode = options.FailStatus;
                if (options.FailRetryAfter.Length > 0)
                {
                    context.Response.Headers.RetryAfter = options.FailRetryAfter;
                }

                await context.Response.WriteAsJsonAsync(new { error = new { message = "injected upstream failure", type = "server_error", code = "fake_failure" } });
                return;
            }

            JsonObject? request = context.Request.ContentLength > 0 ? await JsonNode.ParseAsync(context.Request.Body) as JsonObject : null;
            seen[":body"] = request?.ToJsonString() ?? "";
            if (options.OmitStreamUsage && request is not null)
            {
                request.Remove("stream_options");
            }

            (int status, string contentType, IEnumerable<string> chunks) = path == "models"
                ? (200, "application/json", ["{\"object\":\"list\",\"data\":[{\"id\":\"demo\",\"object\":\"model\"}]}"])
                : Replay(options, request) ?? Misbehaviour.Apply(options, context, FakeOpenAi.Respond(path, request, options.Tokenizer));
            if (status == 200 && path is not "models" and not "messages/count_tokens")
            {
                chunks = chunks.ToArray();
                (long input, long output) = ReportedUsage(string.Concat(chunks));
                Interlocked.Add(ref reportedInput, input);
                Interlocked.Add(ref reportedOutput, output);
            }

            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            int delayMs = options.ChunkDelayMs > 0 ? options.ChunkDelayMs : options.LatencyMs / 10;
            foreach (string chunk in chunks)
            {
                if (chunk.Length == 0)
                {
                    await Task.Delay(options.StallMs, context.RequestAborted); // an empty piece is a stall marker
                    continue;
                }

                await context.Response.WriteAsync(chunk, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (delayMs > 0 && contentType == "text/event-stream")
                {
                    await Task.Delay(delayMs, context.RequestAborted);
                }
            }
        });
        // requests served, and the usage the fake reported in them, summed (input = every input token, output every output token)
        app.MapGet("/stats", () => new { requests = Volatile.Read(ref requests), input_tokens = Volatile.Read(ref reportedInput), output_tokens = Volatile.Read(ref reportedOutput) });
        app.MapGet("/last", () => Volatile.Read(ref last)); // the last request's headers, ":path" and ":body" (tests: what went upstream)
        // The "bare Kestrel JSON POST" the benchmarks compare the quota API with: read a small JSON body, answer one.
        app.MapPost("/echo", async (HttpContext context) =>
        {
            JsonNode? body = await JsonNode.ParseAsync(context.Request.Body);
            return Results.Json(new { ok = true, amount = body?["amount"]?.GetValue<long>() ?? 0 });
        });
        return app;
    }

    /// <summary>The usage a reply reports: its last input and output counts (a stream's final, cumulative ones).</summary>
    private static (long Input, long Output) ReportedUsage(string reply)
    {
        static long Last(string text, string pattern)
        {
            System.Text.RegularExpressions.MatchCollection found = System.Text.RegularExpressions.Regex.Matches(text, pattern);
            // a misbehaving reply's number beyond the long range counts as the largest one
            return found.Count == 0 ? 0 : long.TryParse(found[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out long count) ? count : long.MaxValue;
        }

        return (Last(reply, "\"(?:input|prompt)_tokens\":(\\d+)"), Last(reply, "\"(?:output|completion)_tokens\":(\\d+)"));
    }

    /// <summary>The recorded reply a request names in <c>metadata.replay</c>, or null.</summary>
    private static (int, string, IEnumerable<string>)? Replay(FakeOptions options, JsonObject? request)
    {
        if (options.ReplayDir.Length == 0 || request?["metadata"]?["replay"] is not JsonValue name || !name.TryGetValue(out string? replay) ||
            replay.IndexOfAny(['/', '\\', '.']) >= 0)
        {
            return null;
        }

        string sse = Path.Combine(options.ReplayDir, replay + ".sse"), json = Path.Combine(options.ReplayDir, replay + ".json");
        return File.Exists(sse) ? (200, "text/event-stream", [File.ReadAllText(sse)])
            : File.Exists(json) ? (200, "application/json", [File.ReadAllText(json)])
            : (404, "application/json", [$"{{\"error\":{{\"message\":\"no recorded reply {replay}\"}}}}"]);
    }
}
