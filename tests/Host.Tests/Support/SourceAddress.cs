using System.Net;
using System.Net.Sockets;

namespace Quota.Host.Tests.Support;

/// <summary>
/// HTTP clients that connect from a chosen loopback address (Linux routes all of 127.0.0.0/8 to loopback): two clients of
/// the same host that the host sees as two different addresses.
/// </summary>
internal static class SourceAddress
{
    public static HttpClient Client(Uri baseAddress, string source, bool redirects = true, CookieContainer? cookies = null) =>
        new(new SocketsHttpHandler
        {
            AllowAutoRedirect = redirects,
            UseCookies = cookies is not null,
            CookieContainer = cookies ?? new CookieContainer(),
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = baseAddress };
}
