using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

/// <summary>
/// The admin key's hash, resolved once at start (configured, read from <c>Quota:AdminKeyFile</c>, or generated; see
/// <see cref="AdminKeySource"/>), after the data directory is made ready (created 0700, or named in a warning when others
/// can read it). The engine's opening asks for it first, so a key that cannot be read stops the start before any engine
/// file is opened. Only the hash is kept.
/// </summary>
public sealed class AdminCredential
{
    public AdminCredential(IOptions<QuotaOptions> options, ILogger<AdminCredential> logger)
    {
        QuotaOptions o = options.Value;
        if (PrivateFiles.Prepare(o.DataDir) is { } openMode)
        {
            HostLog.DataDirectoryNotPrivate(logger, Path.GetFullPath(o.DataDir), Convert.ToString((int)openMode, 8));
        }

        Hash = ApiKeys.SecretHash(AdminKeySource.Resolve(o, logger));
    }

    public byte[] Hash { get; }
}
