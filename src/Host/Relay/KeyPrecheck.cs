// The relay's cheap refusal before it reads a request's body (docs/relay.md "Before the body"): a key no reserve can
// pass whatever the request asks is refused before up to 4 MiB are read and their prompt counted.
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

internal static class KeyPrecheck
{
    /// <summary>
    /// The refusal a reserve of the smallest amount would give <paramref name="tokenId"/> now, in the engine's order
    /// (unknown or deleted, disabled, expired, paused, wallet, key budget), or <see cref="ReserveResult.Ok"/>. Read from
    /// the engine's view of the key, as the reserve would find it: the reserve stays the authority (a key that passes
    /// here may still be refused there), so a pause whose window has ended passes, for the reserve to roll it over.
    /// <paramref name="userId"/>: the key's user (0 when the key is not found), read from the same view.
    /// </summary>
    public static ReserveOutcome Check(QuotaRuntime runtime, int tokenId, long nowMs, out int userId)
    {
        userId = 0;
        if (runtime.Engine.ReadToken(tokenId, nowMs) is not { } key)
        {
            return Refused(ReserveResult.KeyNotFound);
        }

        userId = key.UserId;

        if (key.OperatorStatus != TokenStatus.Enabled)
        {
            return Refused(ReserveResult.KeyDisabled);
        }

        if (key.Expired)
        {
            return Refused(ReserveResult.KeyExpired);
        }

        if (key.Paused && PausingPolicy(key) is { } pausing)
        {
            return Refused(ReserveResult.KeyPaused, pausing);
        }

        if (runtime.Engine.ReadUser(key.UserId) is { } wallet && wallet.QuotaUnits - wallet.ReservedQuotaUnits < 1)
        {
            return Refused(ReserveResult.InsufficientUserQuota);
        }

        return !key.UnlimitedQuota && key.RemainQuotaUnits - key.ReservedQuotaUnits < 1 ? Refused(ReserveResult.InsufficientKeyQuota) : Refused(ReserveResult.Ok);
    }

    /// <summary>The policy that pauses the key, or null when one of them may restore it at the reserve (its window ended).</summary>
    private static int? PausingPolicy(TokenView key)
    {
        int? pausing = null;
        foreach (PolicyView policy in key.Policies)
        {
            if (policy.PausesKey)
            {
                if (policy.Recovering)
                {
                    return null;
                }

                pausing ??= policy.Index;
            }
        }

        return pausing;
    }

    private static ReserveOutcome Refused(ReserveResult result, int policyIndex = -1) => new(result, ReservationId.None, 0, policyIndex);
}
