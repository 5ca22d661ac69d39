using System.Globalization;
using Microsoft.AspNetCore.Localization;

namespace Quota.Host.ConsoleUi;

/// <summary>The console's languages: from the language cookie (the switch), else Accept-Language, else English.</summary>
public static class ConsoleCultures
{
    public static readonly string[] Names = ["en", "zh-CN", "zh-TW"];
    private const string CookieName = "quota.culture";

    public static readonly RequestLocalizationOptions Options = Build();

    private static RequestLocalizationOptions Build()
    {
        var options = new RequestLocalizationOptions { FallBackToParentCultures = true, FallBackToParentUICultures = true }
            .SetDefaultCulture(Names[0]).AddSupportedCultures(Names).AddSupportedUICultures(Names);
        options.RequestCultureProviders =
        [
            new CookieRequestCultureProvider { CookieName = CookieName },
            new AcceptLanguageHeaderRequestCultureProvider(),
        ];
        return options;
    }

    /// <summary>Stores the chosen language (ignored unless it is one of <see cref="Names"/>).</summary>
    public static void Remember(HttpContext context, string? name)
    {
        if (name is null || Array.IndexOf(Names, name) < 0)
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

    /// <summary>The language's own name, for the switch (each shown in itself).</summary>
    public static string NativeName(string name) => name switch
    {
        "zh-CN" => "简体中文",
        "zh-TW" => "繁體中文",
        _ => "English",
    };

    public static bool IsCurrent(string name) => CultureInfo.CurrentUICulture.Name == name;
}
