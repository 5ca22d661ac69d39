namespace Quota.Host.ConsoleUi;

/// <summary>
/// What every console response carries, whatever wrote it (a page, a redirect, an error, a 404): a content security
/// policy that forbids framing (a page on another port of the same host could otherwise frame a confirm-delete page
/// and take the click) and any script or style not served by the console itself, the older framing and sniffing
/// headers, and a same-origin referrer. Redirects to this very host are made relative, so that behind a
/// TLS-terminating proxy a browser never follows an <c>http://</c> link the host built from its own view of the request.
/// </summary>
public static class ConsoleHeaders
{
    public const string ContentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    public static IApplicationBuilder UseConsoleHeaders(this IApplicationBuilder console) =>
        console.Use((context, next) =>
        {
            // On starting, not now: the exception handler clears the headers of a response it replaces.
            context.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                IHeaderDictionary headers = http.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XFrameOptions = "DENY";
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "same-origin";
                if (RelativeLocation(headers.Location, http.Request.Host) is { } relative)
                {
                    headers.Location = relative;
                }

                return Task.CompletedTask;
            }, context);
            return next(context);
        });

    /// <summary>The path, query and fragment of <paramref name="location"/> when it is an absolute URL of this host; otherwise null.</summary>
    public static string? RelativeLocation(string? location, HostString host) =>
        location is { Length: > 0 } && Uri.TryCreate(location, UriKind.Absolute, out Uri? uri) &&
        (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) &&
        string.Equals(uri.Authority, host.Value, StringComparison.OrdinalIgnoreCase)
            ? uri.PathAndQuery + uri.Fragment
            : null;
}
