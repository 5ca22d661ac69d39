namespace Quota.Host.ConsoleUi;

/// <summary>
/// The key holder's page (/me) session cookie, <c>quota.me</c>: a server-side session's id (<see cref="ConsoleSessions"/>).
/// Every lookup starts a new session and ends the one the browser had, so an id planted in someone's browser before they
/// look up their key never shows that key to whoever planted it.
/// </summary>
public static class KeyHolderCookie
{
    public const string Name = "quota.me";

    public static KeyHolderSession? Find(HttpContext context) => Sessions(context).Find(context.Request.Cookies[Name]);

    /// <summary>Ends the browser's current session, starts one holding <paramref name="session"/> and sets its cookie.</summary>
    public static void StartNew(HttpContext context, KeyHolderSession session)
    {
        ServerSessions<KeyHolderSession> sessions = Sessions(context);
        sessions.End(context.Request.Cookies[Name]);
        context.Response.Cookies.Append(Name, sessions.Start(session), new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, IsEssential = true, Path = "/",
        });
    }

    public static void End(HttpContext context)
    {
        if (context.Request.Cookies[Name] is { } id)
        {
            Sessions(context).End(id);
            context.Response.Cookies.Delete(Name, new CookieOptions { Path = "/" });
        }
    }

    private static ServerSessions<KeyHolderSession> Sessions(HttpContext context) =>
        context.RequestServices.GetRequiredService<ConsoleSessions>().KeyHolders;
}
