// How many client connections the host holds at once, and how long an idle one may stay (docs/operations.md "Limits").
// Every connection costs a file descriptor, and a relayed request one more for its upstream socket: with no cap, a
// flood of idle connections that send nothing takes every descriptor, and then the log, LiteDB, the upstream and
// even accept() fail. The cap is derived from the process's descriptor limit, so a flood is closed at accept while
// the connections already open, the stores and the upstream keep their descriptors.
using System.Globalization;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

internal static class ConnectionLimits
{
    /// <summary>Descriptors kept for the process itself: ~300 are open at start (assemblies, pipes), then the log's
    /// segments, LiteDB, webhooks, telemetry and the cluster store.</summary>
    public const int ReservedDescriptors = 512;

    /// <summary>The smallest cap the host runs with, whatever the descriptor limit.</summary>
    public const int ConnectionsMin = 16;

    /// <summary>The cap when the descriptor limit cannot be read (not Linux): Windows has no small per-process limit.</summary>
    public const int ConnectionsUnknownLimit = 10_000;

    /// <summary>The soft RLIMIT_NOFILE of this process (from /proc/self/limits), or null where it cannot be read.</summary>
    public static long? DescriptorLimit() =>
        File.Exists("/proc/self/limits") ? ParseDescriptorLimit(File.ReadAllLines("/proc/self/limits")) : null;

    /// <summary>The soft limit on the "Max open files" line; "unlimited" is null.</summary>
    public static long? ParseDescriptorLimit(IEnumerable<string> limits)
    {
        foreach (string line in limits)
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                string[] columns = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return columns.Length > 0 && long.TryParse(columns[0], NumberStyles.None, CultureInfo.InvariantCulture, out long soft) ? soft : null;
            }
        }

        return null;
    }

    /// <summary>
    /// The default cap: what the descriptor limit leaves after <see cref="ReservedDescriptors"/>, halved, because each
    /// connection relaying a request also holds an upstream socket.
    /// </summary>
    public static int Derive(long? descriptorLimit) =>
        descriptorLimit is not { } limit ? ConnectionsUnknownLimit : (int)Math.Clamp((limit - ReservedDescriptors) / 2, ConnectionsMin, int.MaxValue);

    /// <summary>The configured cap, or the derived one when <see cref="LimitsOptions.ConnectionsMax"/> is 0.</summary>
    public static int Effective(LimitsOptions options) => options.ConnectionsMax > 0 ? options.ConnectionsMax : Derive(DescriptorLimit());

    public static void LogAtStart(ILogger logger, LimitsOptions options)
    {
        int connections = Effective(options);
        string descriptors = DescriptorLimit()?.ToString(CultureInfo.InvariantCulture) ?? "unknown";
        HostLog.ConnectionsMax(logger, connections, descriptors);
    }

    /// <summary>Applies the <c>Limits</c> section, and the body size limit, to Kestrel.</summary>
    public static IServiceCollection AddConnectionLimits(this IServiceCollection services)
    {
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<LimitsOptions>>((kestrel, limits) =>
        {
            LimitsOptions o = limits.Value;
            int connections = Effective(o);
            kestrel.Limits.MaxConcurrentConnections = connections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = connections;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(o.KeepAliveTimeoutSeconds);
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(o.RequestHeadersTimeoutSeconds);
            kestrel.Limits.MaxRequestBodySize = HostRegistration.BodyBytesMax;
        });
        return services;
    }
}
