using System.CommandLine;

namespace Quota.Ctl.Cli;

/// <summary>
/// Options every command takes (recursive): where the host is, how to find the admin key, and <c>--json</c>.
/// The admin key comes from <c>--admin-key-file</c> when given, else from <c>QUOTA_ADMIN_KEY</c>, else from
/// <c>./data/admin.key</c> (the file the host writes on its first start).
/// </summary>
internal sealed class GlobalOptions
{
    public const string AdminKeyVariable = "QUOTA_ADMIN_KEY";
    public const string DefaultKeyFile = "./data/admin.key";

    public Option<string> Url { get; } = new("--url")
    {
        Description = "Base URL of the host",
        DefaultValueFactory = _ => "http://127.0.0.1:8080",
        Recursive = true,
    };

    public Option<FileInfo?> AdminKeyFile { get; } = new("--admin-key-file")
    {
        Description = $"File holding the admin key (default: ${AdminKeyVariable}, else {DefaultKeyFile})",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print the API's JSON instead of tables (for scripts)",
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Add(Url);
        root.Add(AdminKeyFile);
        root.Add(Json);
    }

    public Uri ParseUrl(ParseResult result)
    {
        string text = result.GetValue(Url)!;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"--url: '{text}' is not an http(s) URL");
        }

        // A base address must end in '/' for relative routes to keep its path (a host behind a path prefix).
        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    public string ReadAdminKey(ParseResult result, Func<string, string?> environment)
    {
        FileInfo? file = result.GetValue(AdminKeyFile);
        if (file is null && environment(AdminKeyVariable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment.Trim();
        }

        string path = file?.FullName ?? Path.GetFullPath(DefaultKeyFile);
        try
        {
            string key = File.ReadAllText(path).Trim();
            return key.Length > 0 ? key : throw new UsageException($"--admin-key-file: {path} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException(
                $"--admin-key-file: cannot read {path} ({e.Message}); set {AdminKeyVariable} or pass --admin-key-file");
        }
    }
}
