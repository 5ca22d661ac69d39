using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Quota.Host.Tests.Support;

namespace Quota.Clients.Tests.Support;

/// <summary>
/// A pass-through proxy on a loopback port in front of the relay that records the status and headers of every answer
/// it passes back: what a client such as Claude Code was told, without changing a byte of it (bodies are streamed).
/// </summary>
internal sealed class RecordingProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase) { "Host", "Connection", "Transfer-Encoding", "Keep-Alive" };

    private readonly WebApplication app;
    private readonly HttpClient relay;

    private RecordingProxy(WebApplication app, HttpClient relay)
    {
        this.app = app;
        this.relay = relay;
    }

    public sealed record Answer(string PathAndQuery, int Status, IReadOnlyDictionary<string, string> Headers);

    /// <summary>The answers passed back, in order.</summary>
    public ConcurrentQueue<Answer> Answers { get; } = new();

    public Uri BaseAddress => new(HostUnderTest.BoundAddress(app));

    public static async Task<RecordingProxy> StartAsync(Uri target)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        WebApplication app = builder.Build();
        var proxy = new RecordingProxy(app, new HttpClient { BaseAddress = target, Timeout = TimeSpan.FromMinutes(5) });
        app.Run(proxy.ForwardAsync);
        await app.StartAsync();
        return proxy;
    }

    private async Task ForwardAsync(HttpContext context)
    {
        HttpRequest incoming = context.Request;
        string pathAndQuery = incoming.Path + incoming.QueryString;
        using var outgoing = new HttpRequestMessage(new HttpMethod(incoming.Method), pathAndQuery);
        if (incoming.ContentLength > 0 || incoming.Headers.TransferEncoding.Count > 0)
        {
            var sent = new MemoryStream();
            await incoming.Body.CopyToAsync(sent, context.RequestAborted);
            sent.Position = 0;
            outgoing.Content = new StreamContent(sent);
        }

        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in incoming.Headers)
        {
            if (!HopByHop.Contains(header.Key) && !outgoing.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value))
            {
                outgoing.Content?.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value);
            }
        }

        using HttpResponseMessage answer = await relay.SendAsync(outgoing, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        var recorded = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        context.Response.StatusCode = (int)answer.StatusCode;
        foreach (KeyValuePair<string, IEnumerable<string>> header in answer.Headers.Concat(answer.Content.Headers))
        {
            recorded[header.Key] = string.Join(", ", header.Value);
            if (!HopByHop.Contains(header.Key))
            {
                context.Response.Headers[header.Key] = header.Value.ToArray();
            }
        }

        Answers.Enqueue(new Answer(pathAndQuery, (int)answer.StatusCode, recorded));
        await using Stream body = await answer.Content.ReadAsStreamAsync(context.RequestAborted);
        byte[] buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted); // an event stream passes event by event
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.DisposeAsync();
        relay.Dispose();
    }
}
