using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;
using Quota.Host.Errors;
using Quota.Host.Operations;

namespace Quota.Host.Runtime;

/// <summary>Where a credential was refused (a tag of the failure metric).</summary>
public enum AuthSurface
{
    /// <summary>The console's sign-in form (the admin key).</summary>
    SignIn,
    /// <summary>The admin API (the admin key).</summary>
    AdminApi,
    /// <summary>The quota API (the admin key or a gateway key).</summary>
    QuotaApi,
    /// <summary>The relay (an API key).</summary>
    Relay,
    /// <summary>The key holder's page (an API key).</summary>
    KeyLookup,
}

/// <summary>
/// Slows down guessing (docs/operations.md "Failed authentication"): each client address may fail to authenticate
/// <see cref="SecurityOptions.FailedAuthLimit"/> times per window (a fixed window per address, opened by its first failure: <see cref="FailureWindows"/>); once over,
/// every request from that address gets 429 with <c>Retry-After</c> until the window ends, the right key included
/// (else a guess that is right would still tell itself apart). Other addresses are never affected. Only a credential
/// that was presented and refused counts, never a request that sent none. IPv6 addresses count per /64, since one
/// host commonly holds a whole /64.
/// The check on every request is a lock-free dictionary lookup of the address in the (usually empty) set of throttled ones.
/// </summary>
public sealed class FailedAuthThrottle
{
    private readonly FailureWindows failures;
    private readonly ConcurrentDictionary<IPAddress, long> throttledUntilMs = new();
    private readonly TimeProvider time;
    private readonly HostMetrics metrics;
    private readonly ILogger logger;

    public FailedAuthThrottle(IOptions<SecurityOptions> options, TimeProvider time, HostMetrics metrics, ILogger<FailedAuthThrottle> logger)
    {
        SecurityOptions o = options.Value;
        this.time = time;
        this.metrics = metrics;
        this.logger = logger;
        failures = new FailureWindows(o.FailedAuthLimit, TimeSpan.FromSeconds(o.FailedAuthWindowSeconds), time);
    }

    /// <summary>Records a refused bearer credential (a request that sent none is not counted).</summary>
    public static void Record(HttpContext context, AuthSurface surface)
    {
        if (!string.IsNullOrEmpty(context.Request.Headers.Authorization))
        {
            context.RequestServices.GetRequiredService<FailedAuthThrottle>().Failed(context, surface);
        }
    }

    /// <summary>Records a refused credential from the request's client; logs a refused sign-in with its address.</summary>
    public void Failed(HttpContext context, AuthSurface surface)
    {
        metrics.AuthFailures.Add(1, new KeyValuePair<string, object?>("surface", SurfaceName(surface)));
        IPAddress? address = ClientAddress(context);
        string shown = address?.ToString() ?? "unknown";
        if (surface == AuthSurface.SignIn)
        {
            HostLog.SignInFailed(logger, shown);
        }

        if (address is null)
        {
            return;
        }

        if (failures.Fail(address) is not { } retryAfter)
        {
            return;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (!throttledUntilMs.TryGetValue(address, out long until) || until <= now)
        {
            HostLog.AddressThrottled(logger, shown, (int)Math.Ceiling(retryAfter.TotalSeconds));
        }

        throttledUntilMs[address] = now + (long)retryAfter.TotalMilliseconds;
        SweepExpired(now);
    }

    /// <summary>The time left while the request's client is throttled; null when it is not.</summary>
    public TimeSpan? ThrottledFor(HttpContext context)
    {
        if (ClientAddress(context) is not { } address || !throttledUntilMs.TryGetValue(address, out long until))
        {
            return null;
        }

        long left = until - time.GetUtcNow().ToUnixTimeMilliseconds();
        if (left > 0)
        {
            return TimeSpan.FromMilliseconds(left);
        }

        throttledUntilMs.TryRemove(new KeyValuePair<IPAddress, long>(address, until));
        return null;
    }

    /// <summary>The client as the throttle counts it: its address (a configured proxy's forwarded one), IPv6 by /64.</summary>
    private static IPAddress? ClientAddress(HttpContext context)
    {
        IPAddress? address = context.Connection.RemoteIpAddress;
        if (address is null || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    private void SweepExpired(long now)
    {
        foreach (KeyValuePair<IPAddress, long> entry in throttledUntilMs)
        {
            if (entry.Value <= now)
            {
                throttledUntilMs.TryRemove(entry);
            }
        }
    }

    private static string SurfaceName(AuthSurface surface) => surface switch
    {
        AuthSurface.SignIn => "signin",
        AuthSurface.AdminApi => "admin_api",
        AuthSurface.QuotaApi => "quota_api",
        AuthSurface.Relay => "relay",
        _ => "key_lookup",
    };

}

/// <summary>Refuses every request from a throttled client before anything else reads it (<see cref="FailedAuthThrottle"/>).</summary>
public static class FailedAuthThrottleMiddleware
{
    public static IApplicationBuilder UseFailedAuthThrottle(this IApplicationBuilder app)
    {
        _ = app.ApplicationServices.GetRequiredService<IOptions<SecurityOptions>>().Value; // a bad setting stops the start before the engine opens
        FailedAuthThrottle throttle = app.ApplicationServices.GetRequiredService<FailedAuthThrottle>();
        HostMetrics metrics = app.ApplicationServices.GetRequiredService<HostMetrics>();
        return app.Use((context, next) =>
        {
            if (throttle.ThrottledFor(context) is not { } left)
            {
                return next(context);
            }

            metrics.AuthThrottled.Add(1);
            context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(left.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            const string Message = "too many failed authentications from this address; retry after the time in Retry-After";
            PathString path = context.Request.Path;
            IResult refusal = path.StartsWithSegments("/v1") || path.StartsWithSegments("/api/quota")
                ? OpenAiError.Result(429, "too_many_failed_authentications", Message)
                : Results.Problem(statusCode: 429, title: "too_many_failed_authentications", detail: Message);
            return refusal.ExecuteAsync(context);
        });
    }
}
