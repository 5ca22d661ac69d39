using System.Collections.Concurrent;
using System.Text.Json;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// The store's configuration, applied to this node. Every save in the cluster writes a whole document and bumps the
/// configuration version; each node applies the documents changed since the version it has (on the events channel, and
/// by polling as the fallback). Applying is idempotent — a document describes a state, not a step — so a node that
/// restarts simply applies everything again.
/// <para>The local engine gets each key's shape (status, expiry, policies' windows, metrics and scopes) with the quotas
/// lifted out of reach: it keeps this node's durable count of what each account used and its reservations, while the
/// real limits are enforced cluster-wide by <see cref="LeaseGate"/>.</para>
/// </summary>
public sealed class ClusterConfig(QuotaRuntime runtime, ClusterStore store, ILogger logger)
{
    private readonly ConcurrentDictionary<int, TokenDocumentInStore> tokens = new();
    private readonly Lock applying = new();
    private long version;

    /// <summary>The configuration version this node has applied.</summary>
    public long Version => Interlocked.Read(ref version);

    public TokenDocumentInStore? Token(int tokenId) => tokens.TryGetValue(tokenId, out TokenDocumentInStore? doc) && !doc.Deleted ? doc : null;

    /// <summary>Applies every document changed since the version this node has; returns that version after.</summary>
    public long Sync()
    {
        lock (applying)
        {
            foreach ((string member, long changed) in store.ChangesAfter(Version))
            {
                if (store.LoadDocument(member) is { } json)
                {
                    Apply(member, json);
                }

                Interlocked.Exchange(ref version, changed);
            }

            return Version;
        }
    }

    /// <summary>
    /// Applies a save made here before it is answered, so that a read on this node sees it. One sync is enough: the save's
    /// version is in the store's change set before this runs, and syncs are serialized, so it is applied when this returns.
    /// </summary>
    public void SyncThrough(long target)
    {
        long applied = Sync();
        System.Diagnostics.Debug.Assert(applied >= target, "a save's own version is applied by the sync that follows it");
    }

    private void Apply(string member, string json)
    {
        if (member.StartsWith("u:", StringComparison.Ordinal))
        {
            ApplyUser(JsonSerializer.Deserialize<UserDocumentInStore>(json)!);
        }
        else
        {
            ApplyToken(JsonSerializer.Deserialize<TokenDocumentInStore>(json)!);
        }
    }

    private void ApplyUser(UserDocumentInStore user)
    {
        if (runtime.Engine.ReadUser(user.Id) is null)
        {
            // The local wallet only counts: the store's account holds the balance.
            SaveOutcome created = runtime.Engine.CreateUser(EngineLimits.BalanceMaxUnits, user.Id);
            if (!created.IsOk)
            {
                ClusterLog.ApplyFailed(logger, "u:" + user.Id, created.Error.ToString());
                return;
            }
        }

        runtime.Store.UpsertUser(new UserDocument { Id = user.Id, Name = user.Name, CreatedMs = user.CreatedMs });
    }

    private void ApplyToken(TokenDocumentInStore token)
    {
        long now = runtime.NowMs;
        bool exists = runtime.Engine.ReadToken(token.Id, now) is not null;
        if (token.Deleted)
        {
            tokens[token.Id] = token; // refused by the gate from now on
            if (exists)
            {
                runtime.Engine.DeleteToken(token.Id, now);
            }

            runtime.UnindexKey(token.KeyHash);
            runtime.Store.DeleteToken(token.Id);
            return;
        }

        SaveOutcome saved = exists
            ? runtime.Engine.UpdateToken(token.Id, new TokenUpdate
            {
                Status = token.Status,
                RemainQuotaUnits = 0,
                UnlimitedQuota = true,
                ExpiresAtMs = token.ExpiresAtMs,
                Policies = LocalPolicies(token.Policies),
            }, now)
            : runtime.Engine.CreateToken(new TokenSpec
            {
                UserId = token.UserId,
                Status = token.Status,
                UnlimitedQuota = true,
                ExpiresAtMs = token.ExpiresAtMs,
                Policies = LocalPolicies(token.Policies),
            }, now, token.Id);
        if (!saved.IsOk)
        {
            ClusterLog.ApplyFailed(logger, "t:" + token.Id, saved.Error.ToString());
            return; // the gate keeps the document the engine has: the two never pair one key's windows with another shape
        }

        tokens[token.Id] = token;
        runtime.Store.UpsertToken(new TokenDocument
        {
            Id = token.Id,
            UserId = token.UserId,
            Name = token.Name,
            KeyHash = token.KeyHash,
            KeyPreview = token.KeyPreview,
            CreatedMs = token.CreatedMs,
        });
        runtime.IndexKey(token.KeyHash, token.Id);
    }

    /// <summary>The policies as the local engine keeps them: the same windows, a quota it never reaches.</summary>
    internal static QuotaPolicySpec[] LocalPolicies(QuotaPolicySpec[] policies) =>
        [.. policies.Select(p => p.Enabled ? p with { QuotaUnits = EngineLimits.PolicyQuotaMaxUnits } : p)];
}
