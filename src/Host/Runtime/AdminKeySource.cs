using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

/// <summary>
/// Where the admin key comes from at start: <c>Quota:AdminKey</c>, else the file <c>Quota:AdminKeyFile</c> names (a
/// mounted secret), else <c>&lt;DataDir&gt;/admin.key</c>, generated on the first start. Every source is held to
/// <see cref="AdminKeyRule"/> (the configured key by options validation, a file's key here); the log names the source
/// and a file's path, never the key.
/// </summary>
internal static class AdminKeySource
{
    public const string FileName = "admin.key";

    public static string Resolve(QuotaOptions options, ILogger logger)
    {
        if (options.AdminKey.Length > 0)
        {
            HostLog.AdminKeyConfigured(logger);
            return options.AdminKey;
        }

        if (options.AdminKeyFile.Length > 0)
        {
            return Read(Path.GetFullPath(options.AdminKeyFile), logger);
        }

        string path = Path.GetFullPath(Path.Combine(options.DataDir, FileName));
        if (File.Exists(path))
        {
            return Read(path, logger);
        }

        string key = ApiKeys.NewKey("sk-admin-");
        PrivateFiles.WriteSecret(path, key); // created 0600: never readable by others, not even for a moment
        HostLog.AdminKeyGenerated(logger, path);
        return key;
    }

    private static string Read(string path, ILogger logger)
    {
        string key;
        try
        {
            key = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"The admin key file {path} cannot be read: {e.Message}", e);
        }

        if (AdminKeyRule.Weakness(key) is { } weakness)
        {
            throw new InvalidOperationException($"The admin key in {path} is refused: {weakness} (docs/operations.md \"Admin key\"); {AdminKeyRule.Advice}");
        }

        HostLog.AdminKeyRead(logger, path);
        return key;
    }
}
