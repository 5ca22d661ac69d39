namespace Quota.Host.ConsoleUi;

/// <summary>Which requests belong to the console: everything but the APIs, the relay and operations endpoints.</summary>
public static class ConsolePaths
{
    private static readonly PathString[] NotConsole = ["/api", "/v1", "/healthz", "/metrics", "/openapi"];

    public static bool IsConsole(PathString path)
    {
        foreach (PathString prefix in NotConsole)
        {
            if (path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A local path to go back to, or "/" (never another site: "//host" and "/\host" are rejected). Only printable ASCII
    /// passes: browsers drop a tab or newline inside a URL ("/\t/host" is "//host"), and a header cannot carry control or
    /// non-ASCII characters (they made the redirect throw: a 500). A path that needs them arrives percent-encoded.
    /// </summary>
    public static string SafeReturnUrl(string? url) =>
        url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) && IsPrintableAscii(url) ? url : "/";

    private static bool IsPrintableAscii(string text)
    {
        foreach (char c in text)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
