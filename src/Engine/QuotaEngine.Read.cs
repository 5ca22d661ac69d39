using Quota.Engine.Accounts;
using Quota.Engine.Model;

namespace Quota.Engine;

// Reads: point-in-time copies for the admin API and tests. Cold path; allocates. Taken under the key's lock so
// that configuration, pause state and window bounds are mutually consistent; counters may move meanwhile.
public sealed partial class QuotaEngine
{
    /// <summary>
    /// A copy of the key, its policies and their current windows as of <paramref name="nowMs"/>, or null for an unknown
    /// or deleted key. Allocates (admin and UI reads, not the request path); a window that is due but not yet rolled over
    /// shows its old numbers.
    /// </summary>
    public TokenView? ReadToken(int tokenId, long nowMs)
    {
        KeyState? key = FindKey(tokenId);
        if (key is null || key.IsDeleted)
        {
            return null;
        }

        lock (key.Gate)
        {
            var policies = new List<PolicyView>();
            bool paused = false;
            for (int index = 0; key.Slots is not null && index < key.Slots.Length; index++)
            {
                if (key.Slots[index] is { Removed: false } slot)
                {
                    policies.Add(ViewOf(index, slot, nowMs));
                    paused |= slot.IsPaused;
                }
            }

            long expiresAtMs = key.ExpiresAtMs;
            return new TokenView(
                tokenId, key.User.UserId, key.OperatorStatus, paused,
                Expired: expiresAtMs != -1 && nowMs >= expiresAtMs,
                key.Budget.Balance, key.Unlimited, key.Budget.Used, key.Budget.Reserved, expiresAtMs, policies);
        }
    }

    private static PolicyView ViewOf(int index, PolicySlot slot, long nowMs)
    {
        bool enabled = slot.Config.Spec.Enabled;
        long endMs = slot.Cell.WindowEndMs;
        bool recovering = slot.IsPaused && (slot.PausedGeneration != slot.Cell.Generation || nowMs >= endMs);
        return new PolicyView(
            index, slot.Config.Spec,
            enabled ? slot.Cell.Used : 0,
            enabled ? slot.Cell.Reserved : 0,
            enabled ? slot.Cell.WindowStartMs : 0,
            enabled ? endMs : 0,
            slot.ExhaustedAtMs,
            slot.PausedFromStatus,
            slot.IsPaused,
            recovering,
            enabled ? slot.Cell.ShadowRefusals : 0);
    }
}
