using System.Runtime.CompilerServices;

namespace Quota.Host.Runtime;

/// <summary>
/// Checks <c>Authorization: Bearer &lt;secret&gt;</c> against a secret's hash (<see cref="ApiKeys.HasBearer"/>: SHA-256,
/// compared in constant time), and remembers the header strings that passed. Kestrel hands a keep-alive connection the
/// same string instance while the header's bytes repeat, so a gateway's every call after its first is recognised by
/// identity instead of being hashed again (the hash was the largest cost of the quota API's own code in its profile).
/// Only strings that passed are kept, weakly: they go when Kestrel drops them; a wrong key is hashed every time.
/// </summary>
public sealed class BearerSecret(byte[] expectedHash)
{
    private static readonly object Passed = new();
    private readonly ConditionalWeakTable<string, object> passed = new();

    public bool Matches(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (header is null)
        {
            return false;
        }

        if (passed.TryGetValue(header, out _))
        {
            return true; // this very string was checked: strings are immutable
        }

        if (!ApiKeys.HasBearer(header, expectedHash))
        {
            return false;
        }

        passed.AddOrUpdate(header, Passed);
        return true;
    }
}
