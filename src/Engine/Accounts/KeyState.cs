using Quota.Engine.Model;

namespace Quota.Engine.Accounts;

/// <summary>
/// An API key's live state: its lifetime budget, status and policies.
/// Concurrency: the hot path reads <see cref="StatusWord"/>, <see cref="ActiveMask"/> and the cells without a
/// lock. Everything structural (status, pause, policy config, window rollover, delete) changes under
/// <see cref="Gate"/>, and the published words are written last, so a lock-free reader sees either the old
/// or the new configuration, never a mix that admits more than either would.
/// </summary>
internal sealed class KeyState(int tokenId, UserState user)
{
    // StatusWord layout: bits 0-1 operator status (1 enabled, 2 disabled), bits 4-7 paused-by-policy mask,
    // bit 8 deleted. One word so the hot path learns "may this key be used at all" in one read.
    public const int OperatorStatusMask = 0b11;
    public const int PausedShift = 4;
    public const int PausedMask = 0b1111 << PausedShift;
    public const int DeletedFlag = 1 << 8;

    public readonly int TokenId = tokenId;
    public readonly UserState User = user;
    public readonly Lock Gate = new();
    public BalanceCell Budget;
    public int StatusWord = (int)TokenStatus.Enabled;
    /// <summary>Bit i set ⇔ Slots[i] holds an enabled policy.</summary>
    public int ActiveMask;
    public long ExpiresAtMs = -1;
    public volatile bool Unlimited;
    /// <summary>Policy positions, allocated on the first policy save; null for keys without policies.</summary>
    public PolicySlot?[]? Slots;
    /// <summary>Which policies apply to which model; null when none is scoped (every active policy applies).</summary>
    public volatile ModelScope? Scope;

    public TokenStatus OperatorStatus => (TokenStatus)(Volatile.Read(ref StatusWord) & OperatorStatusMask);

    public bool IsDeleted => (Volatile.Read(ref StatusWord) & DeletedFlag) != 0;

    /// <summary>Recomputes and publishes the status word (under <see cref="Gate"/>).</summary>
    public void PublishStatus(TokenStatus operatorStatus, bool deleted)
    {
        int paused = 0;
        if (Slots is { } slots)
        {
            for (int i = 0; i < slots.Length; i++)
            {
                if (slots[i] is { IsPaused: true })
                {
                    paused |= 1 << (PausedShift + i);
                }
            }
        }

        Volatile.Write(ref StatusWord, (int)operatorStatus | paused | (deleted ? DeletedFlag : 0));
    }

    /// <summary>
    /// Recomputes and publishes the model scope and the enabled-policy mask (under <see cref="Gate"/>); a deleted key has
    /// none. The scope is written first: a reader takes the mask, then the scope.
    /// </summary>
    public void PublishActiveMask()
    {
        Scope = ModelScope.Build(Slots);
        int mask = 0;
        if (Slots is { } slots && !IsDeleted)
        {
            for (int i = 0; i < slots.Length; i++)
            {
                if (slots[i] is { Removed: false } slot && slot.Config.Spec.Enabled)
                {
                    mask |= 1 << i;
                }
            }
        }

        Volatile.Write(ref ActiveMask, mask);
    }
}
