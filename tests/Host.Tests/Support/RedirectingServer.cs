using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Quota.Host.Tests.Support;

/// <summary>A loopback server that answers every request with a 307 to the same path on <c>target</c> (a 307 keeps the method and body).</summary>
internal sealed class RedirectingServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private int hits;

    private RedirectingServer(WebApplication app) => this.app = app;

    public string BaseUrl => HostUnderTest.BoundAddress(app);

    /// <summary>Requests it answered.</summary>
    public int Hits => Volatile.Read(ref hits);

    public static async Task<RedirectingServer> StartAsync(string target)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        WebApplication app = builder.Build();
        var server = new RedirectingServer(app);
        app.Run(context =>
        {
            Interlocked.Increment(ref server.hits);
            context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            context.Response.Headers.Location = target.TrimEnd('/') + context.Request.Path + context.Request.QueryString;
            return Task.CompletedTask;
        });
        await app.StartAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
