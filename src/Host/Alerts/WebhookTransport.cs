// How alert deliveries reach a webhook (docs/alerts.md "The webhook"): never by a redirect (a 3xx is a failed try,
// else a receiver, or whoever controls its address, could send the signed body anywhere, loopback included), and,
// unless Alerts:AllowLinkLocal is set, never to a link-local address such as a cloud's metadata service
// (169.254.169.254, fd00:ec2::254): the address is checked after name resolution, on the address connected to.
using System.Net;
using System.Net.Sockets;

namespace Quota.Host.Alerts;

internal static class WebhookTransport
{
    private static readonly IPAddress AwsMetadataV6 = IPAddress.Parse("fd00:ec2::254");

    public static SocketsHttpHandler Create(bool allowLinkLocal) => new()
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5), // DNS changes are seen
        ConnectCallback = allowLinkLocal ? null : ConnectOutsideLinkLocalAsync,
    };

    /// <summary>169.254.0.0/16, fe80::/10 (and their IPv4-mapped forms), and the IPv6 metadata address fd00:ec2::254.</summary>
    public static bool IsLinkLocal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> bytes = stackalloc byte[4];
            _ = address.TryWriteBytes(bytes, out _);
            return bytes[0] == 169 && bytes[1] == 254;
        }

        return address.IsIPv6LinkLocal || address.Equals(AwsMetadataV6);
    }

    /// <summary>Whether a webhook URL names a link-local address literally (refused at start).</summary>
    public static bool NamesLinkLocal(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) && IPAddress.TryParse(uri.IdnHost, out IPAddress? literal) && IsLinkLocal(literal);

    private static async ValueTask<Stream> ConnectOutsideLinkLocalAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        DnsEndPoint target = context.DnsEndPoint;
        IPAddress[] resolved = IPAddress.TryParse(target.Host, out IPAddress? literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(target.Host, cancellationToken).ConfigureAwait(false);
        IPAddress[] allowed = Array.FindAll(resolved, address => !IsLinkLocal(address));
        if (allowed.Length == 0)
        {
            throw new HttpRequestException($"{target.Host} is a link-local address (a cloud metadata service?); set Alerts:AllowLinkLocal to deliver there");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, target.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
