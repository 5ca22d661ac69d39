using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The operator's session: signing in with the admin key gives an encrypted cookie (HttpOnly, SameSite=Strict,
/// Secure on HTTPS). The cookie carries a fingerprint of the admin key's hash, so changing the admin key ends every
/// session. The cookie is only ever read for console paths; the APIs stay bearer-only.
/// </summary>
public static class ConsoleAuth
{
    public const string Scheme = "console";
    public const string Policy = "console-operator";
    private const string KeyClaim = "admin_key_fingerprint";

    public static void Configure(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "quota.console";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/signin";
        o.LogoutPath = "/signout";
        o.ReturnUrlParameter = "returnUrl";
        o.ExpireTimeSpan = TimeSpan.FromHours(8);
        o.SlidingExpiration = true;
        o.Events.OnValidatePrincipal = context =>
        {
            QuotaRuntime runtime = context.HttpContext.RequestServices.GetRequiredService<QuotaRuntime>();
            if (context.Principal?.FindFirst(KeyClaim)?.Value != Fingerprint(runtime))
            {
                context.RejectPrincipal();
            }

            return Task.CompletedTask;
        };
    }

    /// <summary>Signs in when <paramref name="adminKey"/> is the admin key (compared in constant time).</summary>
    public static async Task<bool> TrySignInAsync(HttpContext context, string? adminKey)
    {
        QuotaRuntime runtime = context.RequestServices.GetRequiredService<QuotaRuntime>();
        if (!ApiKeys.SecretEquals(adminKey?.Trim(), runtime.AdminKeyHash))
        {
            return false;
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "operator"), new Claim(KeyClaim, Fingerprint(runtime))], Scheme);
        await context.SignInAsync(Scheme, new ClaimsPrincipal(identity));
        return true;
    }

    public static async Task SignOutAsync(HttpContext context)
    {
        await context.SignOutAsync(Scheme);
        context.Session.Clear();
    }

    private static string Fingerprint(QuotaRuntime runtime) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(runtime.AdminKeyHash))[..16];
}
