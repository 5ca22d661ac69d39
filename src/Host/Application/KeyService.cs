using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Runtime;

namespace Quota.Host.Application;

/// <summary>A key as the admin API and the console show it: its label, its view with the numbers of its mode, its version.</summary>
internal sealed record KeyRecord(TokenDocument Label, TokenView View)
{
    /// <summary>The version of its configuration (the admin API's ETag; docs/api.md "Versions").</summary>
    public string Version => DocumentVersions.Of(Label, View);
}

/// <summary>
/// Keys as the admin API, the quota API's readers, the console and /me read and change them, whether this host runs alone
/// or as a cluster node (<see cref="IAccounts"/> knows which). A save that names the version it read is checked against
/// the key's current version, and refused (<see cref="WriteOutcome.Conflict"/>, nothing written) when another save came
/// between — the check and the save are one step: under this service's lock on one node, and against the store's
/// configuration version in a cluster.
/// </summary>
internal sealed class KeyService(QuotaRuntime runtime, IAccounts accounts)
{
    // A store whose version keeps moving (saves on other nodes) is tried again this often before the save reports a conflict.
    private const int StaleRetries = 5;
    private readonly Lock saving = new();

    public KeyRecord? Find(int tokenId) =>
        runtime.Store.FindToken(tokenId) is { } label && accounts.ReadToken(tokenId, runtime.NowMs) is { } view ? new KeyRecord(label, view) : null;

    /// <summary>One page of the key index (docs/operations.md "At scale"): only the page's labels and views are read.</summary>
    public (IReadOnlyList<KeyRecord> Rows, int Total) Page(int? userId, string? status, string? search, long skip, int size)
    {
        if (skip > int.MaxValue)
        {
            return ([], runtime.Keys.Page(userId, status, search, 0, 0).Total);
        }

        (int[] ids, int total) = runtime.Keys.Page(userId, status, search, (int)skip, size);
        TokenView?[] views = accounts.ReadTokens(ids, runtime.NowMs);
        var rows = new List<KeyRecord>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if (runtime.Store.FindToken(ids[i]) is { } label && views[i] is { } view)
            {
                rows.Add(new KeyRecord(label, view));
            }
        }

        return (rows, total);
    }

    /// <summary>Creates a key and its label; the full key is returned only here.</summary>
    public (SaveOutcome Outcome, TokenDocument? Label, string? Key) Create(TokenSpec spec, string name)
    {
        ArgumentNullException.ThrowIfNull(spec);
        LabelNames.Require(name);
        return accounts.CreateToken(spec, name);
    }

    /// <summary>
    /// Changes a key (its name when <paramref name="name"/> is not null); nothing changes on an error or a conflict.
    /// <paramref name="ifVersion"/>: the version the change was made on (null: not checked).
    /// </summary>
    public WriteOutcome Update(int tokenId, TokenUpdate update, string? name, string? ifVersion)
    {
        ArgumentNullException.ThrowIfNull(update);
        LabelNames.Require(name);
        lock (saving)
        {
            for (int attempt = 0; attempt < StaleRetries; attempt++)
            {
                long checkpoint = ifVersion is null ? -1 : accounts.Checkpoint();
                TokenDocument? label = runtime.Store.FindToken(tokenId);
                if (label is null)
                {
                    return WriteOutcome.Of(new SaveOutcome(SpecError.TokenNotFound, tokenId, -1));
                }

                if (ifVersion is not null && (Find(tokenId) is not { } current || !DocumentVersions.Matches(ifVersion, current.Version)))
                {
                    return WriteOutcome.VersionConflict(tokenId);
                }

                (SaveOutcome saved, bool stale) = accounts.UpdateToken(label, update, name, checkpoint);
                if (!stale)
                {
                    return WriteOutcome.Of(saved);
                }
            }

            return WriteOutcome.VersionConflict(tokenId);
        }
    }

    /// <summary>Deletes a key, its policies and its label; its open reservations still settle on the user's wallet.</summary>
    public SpecError Delete(int tokenId)
    {
        lock (saving)
        {
            return runtime.Store.FindToken(tokenId) is { } label ? accounts.DeleteToken(label) : SpecError.TokenNotFound;
        }
    }

    /// <summary>Clears one policy's window (or every enabled one's, <paramref name="policyIndex"/> -1) and restores a key it paused.</summary>
    public SpecError Reset(int tokenId, int policyIndex)
    {
        SpecError error = accounts.ResetPolicies(tokenId, policyIndex);
        runtime.Keys.Touch(tokenId); // a reset restores a paused key
        return error;
    }
}
