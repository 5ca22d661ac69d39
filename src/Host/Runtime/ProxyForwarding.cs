using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

/// <summary>
/// Behind a TLS-terminating proxy the host sees the proxy's address and plain HTTP: cookies would never be Secure and
/// every client would share the proxy's address in the failed-authentication throttle. The proxies named in the
/// <c>Proxy</c> section are believed about the client's address (<c>X-Forwarded-For</c>) and scheme
/// (<c>X-Forwarded-Proto</c>), through a chain of them up to the first address not named; nobody else is (ASP.NET
/// Core's defaults would trust loopback, which any local process can use). Nothing configured: the headers are ignored.
/// </summary>
public static class ProxyForwarding
{
    public static IServiceCollection AddProxyForwarding(this IServiceCollection services)
    {
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ProxyOptions>>((o, proxy) =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.ForwardLimit = null; // every hop, while the hop that reports it is a named proxy
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (string address in proxy.Value.KnownProxies)
            {
                o.KnownProxies.Add(IPAddress.Parse(address));
            }

            foreach (string network in proxy.Value.KnownNetworks)
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        return services;
    }

    /// <summary>Applies the forwarded headers, first in the pipeline, when any proxy is configured.</summary>
    public static IApplicationBuilder UseProxyForwarding(this IApplicationBuilder app)
    {
        ProxyOptions proxy = app.ApplicationServices.GetRequiredService<IOptions<ProxyOptions>>().Value;
        return proxy.KnownProxies.Count + proxy.KnownNetworks.Count > 0 ? app.UseForwardedHeaders() : app;
    }
}
