using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Quota.Host.Tests.Support;

/// <summary>
/// A tiny Kestrel app on a loopback port that records every POST (path, headers, body) — a webhook receiver or an
/// OTLP collector in tests. It answers <see cref="FailuresLeft"/> requests with 500 first, then 200.
/// </summary>
internal sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly WebApplication app;
    private int failuresLeft;

    private LoopbackReceiver(WebApplication app) => this.app = app;

    public sealed record Received(string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body);

    /// <summary>Requests answered 200, in arrival order.</summary>
    public ConcurrentQueue<Received> Accepted { get; } = new();

    /// <summary>Requests answered 500.</summary>
    public int Refused => refused;

    private int refused;

    public int FailuresLeft { get => Volatile.Read(ref failuresLeft); set => Volatile.Write(ref failuresLeft, value); }

    public string BaseUrl => HostUnderTest.BoundAddress(app);

    /// <param name="port">0: any free port; a fixed one to come back on the same address after a restart.</param>
    public static async Task<LoopbackReceiver> StartAsync(int port = 0, int failFirst = 0)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(["--urls", $"http://127.0.0.1:{port}"]);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        WebApplication app = builder.Build();
        var receiver = new LoopbackReceiver(app) { FailuresLeft = failFirst };
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (Interlocked.Decrement(ref receiver.failuresLeft) >= 0)
            {
                Interlocked.Increment(ref receiver.refused);
                return Results.StatusCode(500);
            }

            Interlocked.Exchange(ref receiver.failuresLeft, 0);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            receiver.Accepted.Enqueue(new Received(context.Request.Path, headers, body.ToArray()));
            return Results.Ok();
        });
        await app.StartAsync();
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
