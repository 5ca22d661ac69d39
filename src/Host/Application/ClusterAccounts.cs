using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Cluster;
using Quota.Host.Runtime;

namespace Quota.Host.Application;

/// <summary>
/// Keys and users in cluster mode (docs/cluster.md): the store holds their configuration and numbers, this node's engine
/// their shape and its own usage. Reads show the store's numbers (<see cref="ClusterViews"/>: the engine's quotas here are
/// lifted out of reach); saves write the store's documents (<see cref="ClusterAdmin"/>), checked against the configuration
/// version of the <see cref="Checkpoint"/> so that a save made meanwhile on another node is never overwritten.
/// </summary>
internal sealed class ClusterAccounts(ClusterNode node, QuotaRuntime runtime) : IAccounts
{
    public TokenView? ReadToken(int tokenId, long nowMs) =>
        runtime.Engine.ReadToken(tokenId, nowMs) is { } view ? ClusterViews.Overlay(node, view, fresh: true) : null;

    public TokenView?[] ReadTokens(int[] tokenIds, long nowMs)
    {
        var views = new TokenView?[tokenIds.Length];
        for (int i = 0; i < tokenIds.Length; i++)
        {
            views[i] = runtime.Engine.ReadToken(tokenIds[i], nowMs);
        }

        return ClusterViews.OverlayPage(node, views);
    }

    public UserView?[] ReadUsers(int[] userIds) => ClusterViews.OverlayUsers(node, [.. userIds.Select(runtime.Engine.ReadUser)]);

    /// <summary>Applies every configuration change the store has (one round trip when there is none) and returns its version.</summary>
    public long Checkpoint()
    {
        node.Config.SyncThrough(0);
        return node.Config.Version;
    }

    public (SaveOutcome Outcome, TokenDocument? Label, string? Key) CreateToken(TokenSpec spec, string name) =>
        ClusterAdmin.CreateToken(node, runtime, spec, name);

    public (SaveOutcome Outcome, bool Stale) UpdateToken(TokenDocument label, TokenUpdate update, string? name, long checkpoint) =>
        ClusterAdmin.UpdateToken(node, label.Id, update, name, checkpoint);

    public SpecError DeleteToken(TokenDocument label) => ClusterAdmin.DeleteToken(node, label.Id);

    public SpecError ResetPolicies(int tokenId, int policyIndex) => ClusterAdmin.ResetPolicies(node, runtime, tokenId, policyIndex);

    public SaveOutcome CreateUser(string name, long quotaUnits, string? group) => ClusterAdmin.CreateUser(node, runtime, name, quotaUnits, group);

    public bool UpdateUser(UserDocument label, long checkpoint) => ClusterAdmin.UpdateUser(node, label, checkpoint);

    public SpecError CreditUser(int userId, long deltaUnits) => ClusterAdmin.CreditUser(node, runtime, userId, deltaUnits);

    public async ValueTask<Admitted> HoldAsync(int tokenId, ReserveRequest request, ReserveOutcome reserved)
    {
        GateVerdict verdict = await node.AdmitAsync(tokenId, request, reserved.Id).ConfigureAwait(false);
        return verdict.IsOk ? new Admitted(reserved, false)
            : new Admitted(new ReserveOutcome(verdict.Result, ReservationId.None, 0, verdict.PolicyIndex), verdict.Unavailable);
    }

    public void Finished(ReservationId id, long chargedUnits, long tokens, bool refunded) => node.Gate.Finish(id, chargedUnits, tokens, refunded);
}
