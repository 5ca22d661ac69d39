using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Relay;

/// <summary>
/// The relay's one upstream client and its logger, made once and shared by every relayed request: one
/// <see cref="SocketsHttpHandler"/> whose pooled connections are recycled every 5 minutes (so DNS changes are seen, which
/// is what a client factory would give), with no per-request client, handler pipeline or logger lookup
/// (docs/perf/relay-profile.md). Without <c>Relay:Upstream:BaseUrl</c> it answers from the built-in demo upstream.
/// </summary>
public sealed class RelayUpstream : IDisposable
{
    public RelayUpstream(IOptions<RelayOptions> options, ILoggerFactory logs)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logs);
        UpstreamOptions upstream = options.Value.Upstream;
        HttpMessageHandler handler = upstream.BaseUrl.Length > 0
            ? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false } // a 3xx is the upstream's answer (502), never followed with the provider's key
            : new DemoUpstreamHandler();
        Client = new HttpClient(handler)
        {
            BaseAddress = new Uri((upstream.BaseUrl.Length > 0 ? upstream.BaseUrl : "http://demo-upstream/v1").TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan, // the relay's own clocks (UpstreamDeadlines) bound every call
        };
        if (upstream.ApiKey.Length > 0)
        {
            Client.DefaultRequestHeaders.Authorization = new("Bearer", upstream.ApiKey);
        }

        Logger = logs.CreateLogger("Relay");
    }

    public HttpClient Client { get; }

    public ILogger Logger { get; }

    public void Dispose() => Client.Dispose();
}
