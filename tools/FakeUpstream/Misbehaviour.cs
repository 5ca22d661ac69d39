using System.Text.RegularExpressions;
using Quota.Host.Relay;

namespace Quota.FakeUpstream;

/// <summary>
/// The ways the fake upstream can misbehave (<c>--Fake:Misbehave=NAME</c>), each one a thing real providers or
/// broken proxies do, so the relay's tests can show it is neither fooled nor left holding a reservation.
/// An empty piece in the returned chunks means "stall for Fake:StallMs here".
/// </summary>
public static partial class Misbehaviour
{
    public const string Html = "html";                       // 200 text/html (a captive portal or error page)
    public const string BrokenJson = "broken_json";          // 200 application/json with a cut-off body
    public const string SseForNonStream = "sse_for_non_stream"; // answers an event stream to a non-stream request
    public const string BrokenLine = "broken_line";          // a stream with an event that is not JSON in the middle
    public const string HugeUsage = "huge_usage";            // usage far above anything one request may cost
    public const string OverflowUsage = "overflow_usage";    // usage numbers beyond the long range
    public const string HugePrompt = "huge_prompt";          // prompt_tokens far above anything one request may cost (input is not capped)
    public const string OverflowPrompt = "overflow_prompt";  // prompt_tokens beyond the long range
    public const string EchoAuth401 = "echo_auth_401";       // 401 whose body echoes the Authorization header
    public const string Status500 = "status_500";            // 500 with an error body
    public const string Status400 = "status_400";            // 400 about the request, carelessly echoing the Authorization header
    public const string Stall = "stall";                     // a stream that stops after two chunks
    public const string SlowBody = "slow_body";              // non-stream: headers, then a long wait before the body
    public const string NoSpace = "no_space";                // "data:{…}" (valid SSE, no space after the colon)
    public const string CrLf = "crlf";                       // CRLF line ends
    public const string Cr = "cr";                           // CR line ends
    public const string MultiLine = "multi_line";            // each event's JSON split over two data lines
    public const string FloatUsage = "float_usage";          // usage numbers written as 12.0
    public const string OmitUsage = "omit_usage";            // no usage, stream or not
    public const string LateUsage = "late_usage";            // the usage chunk comes StallMs after the finish chunk
    public const string DuplicateUsage = "duplicate_usage";  // usage with completion_tokens twice (1, then the real count)
    public const string OddShapes = "odd_shapes";            // usage, choices, messages and calls that are not objects
    public const string LoneSurrogate = "lone_surrogate";    // no usage, and a message whose content is "\ud800" (no text)

    public static (int Status, string ContentType, IEnumerable<string> Chunks) Apply(FakeOptions options, HttpContext context, (int Status, string ContentType, IEnumerable<string> Chunks) reply)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        if (reply.Status != 200)
        {
            return reply;
        }

        bool stream = reply.ContentType == "text/event-stream";
        string[] chunks = reply.Chunks.ToArray();
        return options.Misbehave switch
        {
            Html => (200, "text/html", ["<html><body><h1>502 Bad Gateway</h1></body></html>"]),
            BrokenJson => (200, "application/json", [string.Concat(chunks)[..^7]]),
            SseForNonStream when !stream => (200, "text/event-stream", ["data: {\"id\":\"x\",\"choices\":[]}\n\n", "data: [DONE]\n\n"]),
            BrokenLine when stream => (200, reply.ContentType, [.. chunks[..2], "data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"cut\n\n", .. chunks[2..]]),
            HugeUsage => (200, reply.ContentType, chunks.Select(c => CompletionTokens().Replace(c, "\"$1_tokens\":10000000000000")).ToArray()),
            OverflowUsage => (200, reply.ContentType, chunks.Select(c => CompletionTokens().Replace(c, "\"$1_tokens\":100000000000000000000000")).ToArray()),
            HugePrompt => (200, reply.ContentType, chunks.Select(c => PromptTokens().Replace(c, "\"prompt_tokens\":1000000000000000")).ToArray()),
            OverflowPrompt => (200, reply.ContentType, chunks.Select(c => PromptTokens().Replace(c, "\"prompt_tokens\":100000000000000000000000")).ToArray()),
            EchoAuth401 => (401, "application/json", [$"{{\"error\":{{\"message\":\"Incorrect API key provided: {context.Request.Headers.Authorization}{context.Request.Headers["x-api-key"]}\",\"code\":\"invalid_api_key\"}}}}"]),
            Status400 => (400, "application/json", [$"{{\"error\":{{\"message\":\"too long for key {context.Request.Headers.Authorization}{context.Request.Headers["x-api-key"]}\",\"code\":\"context_length_exceeded\"}}}}"]),
            Status500 => (500, "application/json", ["{\"error\":{\"message\":\"internal details: /srv/secret\",\"code\":\"server_error\"}}"]),
            Stall when stream => (200, reply.ContentType, [.. chunks[..2], "", .. chunks[2..]]),
            SlowBody when !stream => (200, reply.ContentType, ["", .. chunks]),
            NoSpace => (200, reply.ContentType, chunks.Select(c => c.Replace("data: ", "data:", StringComparison.Ordinal)).ToArray()),
            CrLf => (200, reply.ContentType, chunks.Select(c => c.Replace("\n", "\r\n", StringComparison.Ordinal)).ToArray()),
            Cr => (200, reply.ContentType, chunks.Select(c => c.Replace("\n", "\r", StringComparison.Ordinal)).ToArray()),
            MultiLine when stream => (200, reply.ContentType, chunks.Select(c => c.Replace(",\"", ",\ndata: \"", StringComparison.Ordinal)).ToArray()),
            FloatUsage => (200, reply.ContentType, chunks.Select(c => TokenNumbers().Replace(c, "\"$1_tokens\":$2.0")).ToArray()),
            OmitUsage => (200, reply.ContentType, stream ? chunks.Where(c => !c.Contains("\"usage\"", StringComparison.Ordinal)).ToArray() : chunks.Select(c => Usage().Replace(c, "")).ToArray()),
            DuplicateUsage => (200, reply.ContentType, chunks.Select(c => c.Replace("\"usage\":{", "\"usage\":{\"completion_tokens\":1,", StringComparison.Ordinal)).ToArray()),
            OddShapes when stream => (200, reply.ContentType, [.. chunks[..2], "data: {\"id\":\"x\",\"choices\":[7,{\"delta\":\"d\"},{\"delta\":{\"function_call\":\"f\",\"tool_calls\":[3,{\"function\":\"g\"}]}}],\"usage\":5}\n\n", .. chunks[2..]]),
            OddShapes => (200, reply.ContentType, chunks.Select(c => Usage().Replace(c, ",\"usage\":\"n/a\"")
                .Replace("\"choices\":[", "\"choices\":[7,{\"message\":\"text\"},{\"message\":{\"function_call\":\"f\",\"tool_calls\":[3,{\"function\":\"g\"}]}},", StringComparison.Ordinal)).ToArray()),
            LoneSurrogate when !stream => (200, reply.ContentType, chunks.Select(c => Usage().Replace(c, "")
                .Replace("\"choices\":[", "\"choices\":[{\"message\":{\"content\":\"\\ud800\"}},", StringComparison.Ordinal)).ToArray()),
            LateUsage when stream => (200, reply.ContentType, chunks.SelectMany(c => c.Contains("\"usage\"", StringComparison.Ordinal) ? ["", c] : new[] { c }).ToArray()),
            _ => (reply.Status, reply.ContentType, chunks),
        };
    }

    [GeneratedRegex("\"(completion|output)_tokens\":\\d+")]
    private static partial Regex CompletionTokens();

    [GeneratedRegex("\"prompt_tokens\":\\d+")]
    private static partial Regex PromptTokens();

    [GeneratedRegex("\"(prompt|completion|total)_tokens\":(\\d+)")]
    private static partial Regex TokenNumbers();

    [GeneratedRegex(",\"usage\":\\{[^}]*\\}")]
    private static partial Regex Usage();
}
