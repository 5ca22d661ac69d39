using System.Globalization;
using Microsoft.AspNetCore.Localization;
using Quota.Host.Runtime;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The console's language: from the language cookie (the switch), else Accept-Language by the host's one rule
/// (<see cref="Languages.Match"/>, the same the APIs use), else English.
/// </summary>
public static class ConsoleCultures
{
    private const string CookieName = "quota.culture";

    public static readonly RequestLocalizationOptions Options = Build();

    private static RequestLocalizationOptions Build()
    {
        var options = new RequestLocalizationOptions { FallBackToParentCultures = true, FallBackToParentUICultures = true }
            .SetDefaultCulture(Languages.Default).AddSupportedCultures(Languages.Names).AddSupportedUICultures(Languages.Names);
        options.RequestCultureProviders =
        [
            new CookieRequestCultureProvider { CookieName = CookieName },
            new CustomRequestCultureProvider(context =>
                Task.FromResult(Languages.Match(context.Request.Headers.AcceptLanguage) is { } name ? new ProviderCultureResult(name) : null)),
        ];
        return options;
    }

    /// <summary>Stores the chosen language (ignored unless it is one of <see cref="Languages.Names"/>).</summary>
    public static void Remember(HttpContext context, string? name)
    {
        if (name is null || Array.IndexOf(Languages.Names, name) < 0)
        {
            return;
        }

        context.Response.Cookies.Append(CookieName, CookieRequestCultureProvider.MakeCookieValue(new RequestCulture(name)), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = context.Request.IsHttps,
            MaxAge = TimeSpan.FromDays(365),
            IsEssential = true,
        });
    }

    public static bool IsCurrent(string name) => CultureInfo.CurrentUICulture.Name == name;
}
