using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The operator's session: signing in with the admin key starts a server-side session (<see cref="ConsoleSessions"/>)
/// whose id travels in an encrypted cookie (HttpOnly, SameSite=Strict, Secure on HTTPS, including HTTPS a configured
/// proxy reports). Signing out ends the session on the server, so a copied cookie is worthless afterwards. The cookie is
/// only ever read for console paths; the APIs stay bearer-only.
/// </summary>
public static class ConsoleAuth
{
    public const string Scheme = "console";
    public const string Policy = "console-operator";

    public static void Configure(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "quota.console";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/signin";
        o.LogoutPath = "/signout";
        o.ReturnUrlParameter = "returnUrl";
    }

    /// <summary>Signs in when <paramref name="adminKey"/> is the admin key (compared in constant time).</summary>
    public static async Task<bool> TrySignInAsync(HttpContext context, string? adminKey)
    {
        QuotaRuntime runtime = context.RequestServices.GetRequiredService<QuotaRuntime>();
        if (!ApiKeys.SecretEquals(adminKey?.Trim(), runtime.AdminKeyHash))
        {
            return false;
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "operator")], Scheme);
        await context.SignInAsync(Scheme, new ClaimsPrincipal(identity));
        return true;
    }

    /// <summary>Ends this browser's operator session, and the key it looked up on /me.</summary>
    public static async Task SignOutAsync(HttpContext context)
    {
        await context.SignOutAsync(Scheme);
        KeyHolderCookie.End(context);
    }

    /// <summary>Ends every operator session (every browser, this one included); returns how many there were.</summary>
    public static async Task<int> SignOutEverywhereAsync(HttpContext context)
    {
        int ended = context.RequestServices.GetRequiredService<ConsoleSessions>().Operators.EndAll();
        await SignOutAsync(context);
        return ended;
    }
}
