using Quota.Engine.Model;

namespace Quota.Engine.Accounts;

/// <summary>
/// An API key's live state: its lifetime budget, its published configuration and its policy positions.
/// Concurrency: the request path reads <see cref="Config"/> once and the counters (budget, windows) lock-free.
/// Everything structural (status, pause, policies, window restarts by a save, delete) changes under <see cref="Gate"/>
/// in the policy positions, and becomes visible when <see cref="Publish"/> swaps in the new configuration whole: one
/// reference write (docs/design.md "Invariants", configuration publication).
/// </summary>
internal sealed class KeyState
{
    public KeyState(int tokenId, UserState user)
    {
        TokenId = tokenId;
        User = user;
        Config = KeyConfig.Initial(this);
    }

    public readonly int TokenId;
    public readonly UserState User;
    public readonly Lock Gate = new();
    public BalanceCell Budget;
    /// <summary>What the request path reads; replaced whole under <see cref="Gate"/>.</summary>
    public volatile KeyConfig Config;
    /// <summary>Policy positions (changed under <see cref="Gate"/>), allocated on the first policy save; null for keys without policies.</summary>
    public PolicySlot?[]? Slots;

    public TokenStatus OperatorStatus => Config.OperatorStatus;

    public bool IsDeleted => Config.IsDeleted;

    public bool Unlimited => Config.Unlimited;

    /// <summary>-1: never.</summary>
    public long ExpiresAtMs => Config.ExpiresAtMs;

    /// <summary>
    /// Publishes the key's whole configuration (under <see cref="Gate"/>): these fields with what the policy positions hold
    /// now — each one's rules and windows, which are in service, their model scope, which of them pause the key. A deleted
    /// key has no policy in service.
    /// </summary>
    public void Publish(TokenStatus operatorStatus, bool unlimited, long expiresAtMs, bool deleted)
    {
        int paused = 0, active = 0;
        PolicyConfig?[] policies = new PolicyConfig?[EngineLimits.PoliciesPerKeyMax];
        PolicyWindow?[] windows = new PolicyWindow?[EngineLimits.PoliciesPerKeyMax];
        for (int i = 0; Slots is not null && i < Slots.Length; i++)
        {
            if (Slots[i] is not { } slot)
            {
                continue;
            }

            policies[i] = slot.Config;
            windows[i] = slot.Window;
            paused |= slot.IsPaused ? 1 << (KeyConfig.PausedShift + i) : 0;
            active |= slot.IsActive && !deleted ? 1 << i : 0;
        }

        int status = (int)operatorStatus | paused | (deleted ? KeyConfig.DeletedFlag : 0);
        Config = new KeyConfig(status, expiresAtMs, unlimited, active, ModelScope.Build(Slots), policies, windows, AdmissionChain.Build(this, unlimited, policies, windows));
    }

    /// <summary>Publishes again after a pause or a restore changed a position (under <see cref="Gate"/>).</summary>
    public void Republish() => Publish(OperatorStatus, Unlimited, ExpiresAtMs, IsDeleted);

    /// <summary>Deletes the key (under <see cref="Gate"/>): no policy in service any more, every reserve refused.</summary>
    public void PublishDeleted() => Publish(OperatorStatus, Unlimited, ExpiresAtMs, deleted: true);
}
