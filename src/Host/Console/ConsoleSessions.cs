using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.ConsoleUi;

/// <summary>What the key holder's page (/me) remembers for a browser: the key it looked up, by id and hash.</summary>
public sealed record KeyHolderSession(int TokenId, string KeyHash);

/// <summary>
/// The console's two kinds of session, both server-side (<see cref="ServerSessions{T}"/>): the operator's (the cookie
/// <c>quota.console</c> carries only the session's id, through <see cref="OperatorTicketStore"/>) and the key holder's
/// page (cookie <c>quota.me</c>). Their lengths come from the <c>Console</c> section.
/// </summary>
public sealed class ConsoleSessions(TimeProvider time, IOptions<ConsoleOptions> options)
{
    public ServerSessions<AuthenticationTicket> Operators { get; } = new(time, Idle(options.Value), Lifetime(options.Value));
    public ServerSessions<KeyHolderSession> KeyHolders { get; } = new(time, Idle(options.Value), Lifetime(options.Value));

    private static TimeSpan Idle(ConsoleOptions o) => TimeSpan.FromMinutes(o.SessionIdleMinutes);

    private static TimeSpan Lifetime(ConsoleOptions o) => TimeSpan.FromHours(o.SessionLifetimeHours);
}

/// <summary>The cookie handler's ticket store: the ticket stays on the server; the cookie holds the session's id.</summary>
public sealed class OperatorTicketStore(ServerSessions<AuthenticationTicket> sessions) : ITicketStore
{
    public Task<string> StoreAsync(AuthenticationTicket ticket) => Task.FromResult(sessions.Start(ticket));

    public Task RenewAsync(string key, AuthenticationTicket ticket)
    {
        sessions.Replace(key, ticket);
        return Task.CompletedTask;
    }

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => Task.FromResult(sessions.Find(key));

    public Task RemoveAsync(string key)
    {
        sessions.End(key);
        return Task.CompletedTask;
    }

    /// <summary>Points the console cookie at the server-side store and caps its life at the session's.</summary>
    public static void Configure(CookieAuthenticationOptions o, ConsoleSessions console)
    {
        o.SessionStore = new OperatorTicketStore(console.Operators);
        o.ExpireTimeSpan = console.Operators.Lifetime;
        o.SlidingExpiration = false; // the store ends idle sessions; the cookie never outlives the session's lifetime
    }
}
