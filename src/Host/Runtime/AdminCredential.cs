using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Runtime;

/// <summary>
/// The admin key's hash, resolved once at start (configured, read from <c>Quota:AdminKeyFile</c>, or generated; see
/// <see cref="AdminKeySource"/>). The engine's opening asks for it first, so a key that cannot be read stops the start
/// before any engine file is opened. Only the hash is kept.
/// </summary>
public sealed class AdminCredential(IOptions<QuotaOptions> options, ILogger<AdminCredential> logger)
{
    public byte[] Hash { get; } = ApiKeys.SecretHash(AdminKeySource.Resolve(options.Value, logger));
}
