using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;
using Quota.Host.Runtime;
using Quota.Host.ConsoleUi.Components;

namespace Quota.Host.ConsoleUi;

// The code namespace is Quota.Host.ConsoleUi (folder Console/): a namespace named "Console" inside Quota.Host would
// shadow System.Console in every other Quota.Host.* file.

/// <summary>
/// The operator's web console and the key holder's page: Razor components rendered on the server (static SSR), one
/// cookie session for the operator, antiforgery on every form. Everything here runs only for console paths
/// (<see cref="ConsolePaths"/>): the admin, quota and relay APIs never see the cookie, the session or the culture
/// middleware, and keep their bearer-only auth.
/// </summary>
public static class ConsoleRegistration
{
    public static IServiceCollection AddQuotaConsole(this IServiceCollection services)
    {
        services.AddRazorComponents();
        services.AddSingleton<DeletedKeyNames>();
        // Chinese text is written as characters, not as &#x…; escapes (the markup stays HTML-encoded).
        services.TryAddSingleton(HtmlEncoder.Create(UnicodeRanges.All));
        services.AddAuthentication().AddCookie(ConsoleAuth.Scheme, ConsoleAuth.Configure);
        services.AddAuthorizationBuilder().AddPolicy(ConsoleAuth.Policy, policy =>
            policy.AddAuthenticationSchemes(ConsoleAuth.Scheme).RequireAuthenticatedUser());
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "quota.antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.FormFieldName = "__RequestVerificationToken";
        });
        services.AddSingleton<ConsoleSessions>();
        services.AddOptions<CookieAuthenticationOptions>(ConsoleAuth.Scheme).Configure<ConsoleSessions>(OperatorTicketStore.Configure);
        // Antiforgery tokens survive a restart: the data-protection keys live in the data directory (sessions do not:
        // they are held in memory, docs/operations.md "Console sessions").
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<QuotaOptions>>((o, quota) =>
            o.XmlRepository = new FileSystemXmlRepository(new DirectoryInfo(Path.Combine(quota.Value.DataDir, "console-keys")), NullLoggerFactory.Instance));
        return services;
    }

    public static WebApplication MapQuotaConsole(this WebApplication app)
    {
        // WebApplication adds authentication and authorization to the front of the whole pipeline when their services
        // are registered and the app never called them itself; here only the console branch calls them, so without
        // these marks every API and relay request would also run the cookie handler and the policy evaluation, for
        // nothing (they authenticate by bearer key): 5% of a quota API call's CPU in its profile. The keys are the
        // ones UseAuthentication / UseAuthorization set on the builder.
        IDictionary<string, object?> properties = ((IApplicationBuilder)app).Properties;
        properties["__AuthenticationMiddlewareSet"] = true;
        properties["__AuthorizationMiddlewareSet"] = true;
        app.UseWhen(context => ConsolePaths.IsConsole(context.Request.Path), console =>
        {
            console.UseConsoleHeaders();
            console.UseRequestLocalization(ConsoleCultures.Options);
            console.UseAuthentication();
            console.UseAuthorization();
            console.UseAntiforgery();
        });
        app.MapConsoleAssets();
        app.MapConsoleCommands();
        app.MapDashboardCsv();
        app.MapRazorComponents<App>().RequireAuthorization(ConsoleAuth.Policy);
        return app;
    }

    /// <summary>Form posts handled outside a page: sign-out and sign-out everywhere (antiforgery-checked) and the language switch.</summary>
    private static void MapConsoleCommands(this WebApplication app)
    {
        app.MapPost("/signout", async (HttpContext context) =>
        {
            // The antiforgery middleware only records its verdict; an endpoint without form parameters must act on it.
            if (context.Features.Get<IAntiforgeryValidationFeature>() is not { IsValid: true })
            {
                return Results.BadRequest();
            }

            await ConsoleAuth.SignOutAsync(context);
            return Results.LocalRedirect("/signin");
        }).RequireAuthorization(ConsoleAuth.Policy).WithMetadata(new RequireAntiforgeryTokenAttribute()).ExcludeFromDescription();
        app.MapPost("/signout-everywhere", async (HttpContext context, ILogger<ConsoleSessions> logger) =>
        {
            if (context.Features.Get<IAntiforgeryValidationFeature>() is not { IsValid: true })
            {
                return Results.BadRequest();
            }

            int ended = await ConsoleAuth.SignOutEverywhereAsync(context);
            HostLog.SignedOutEverywhere(logger, ended, context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
            return Results.LocalRedirect("/signin");
        }).RequireAuthorization(ConsoleAuth.Policy).WithMetadata(new RequireAntiforgeryTokenAttribute()).ExcludeFromDescription();
        app.MapGet("/culture", (string? name, string? returnUrl, HttpContext context) =>
        {
            ConsoleCultures.Remember(context, name);
            return Results.LocalRedirect(ConsolePaths.SafeReturnUrl(returnUrl));
        }).ExcludeFromDescription();
    }
}
