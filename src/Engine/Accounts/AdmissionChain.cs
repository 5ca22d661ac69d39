using Quota.Engine.Model;
using Quota.Engine.Reservations;

namespace Quota.Engine.Accounts;

/// <summary>
/// What a reserve took along a chain: the window generation of each policy it held in or that a shadow policy refused
/// (16 bits per position), the policies it holds, and the shadow policies that would have refused.
/// </summary>
internal struct ChainHolds
{
    public long Generations;
    public int HeldMask;
    public int ShadowRefusedMask;
}

/// <summary>
/// A key's admission chain (docs/design.md "The admission chain"): its accounts in check order — the user's wallet, the
/// key's lifetime budget, then one link per policy position that has windows. Immutable, built when the key's
/// configuration is published (<see cref="KeyState.Publish"/>), never per request.
/// <para>Reserve holds every applicable link in order and, on the first refusal, gives back what it took in reverse, so a
/// refusal leaves every counter as it was (all or nothing over any chain, like System.Threading.RateLimiting's
/// ChainedRateLimiter). Each hold is one CAS on its account's word; nothing here locks or allocates.</para>
/// <para>A window link holds only when the request's policy mask (the policies in service that apply to its model) has
/// its bit; a finish releases or charges a window link only when the reservation's held mask has it, and only in the
/// generation it was held in (a later chain of the same key reaches the same windows: see <see cref="PolicyWindow"/>).</para>
/// </summary>
internal sealed class AdmissionChain
{
    private readonly ChainLink[] links;

    private AdmissionChain(ChainLink[] links) => this.links = links;

    /// <summary>The links in check order.</summary>
    public ReadOnlySpan<ChainLink> Links => links;

    /// <summary>The chain of <paramref name="key"/> under a configuration with these policy positions.</summary>
    public static AdmissionChain Build(KeyState key, bool unlimited, PolicyConfig?[] policies, PolicyWindow?[] windows)
    {
        int count = 2;
        for (int i = 0; i < windows.Length; i++)
        {
            count += windows[i] is null ? 0 : 1;
        }

        var links = new ChainLink[count];
        links[0] = ChainLink.Wallet(key.User);
        links[1] = ChainLink.KeyBudget(key, enforced: !unlimited);
        for (int i = 0, next = 2; i < windows.Length; i++)
        {
            if (windows[i] is { } window)
            {
                links[next++] = ChainLink.Window(key.TokenId, i, policies[i]!, window);
            }
        }

        return new AdmissionChain(links);
    }

    /// <summary>
    /// Holds <paramref name="amount"/> (<paramref name="tokens"/> on tokens policies) on every link, in order; on the first
    /// refusal gives back what it took, in reverse, and returns the refusal with the link that refused.
    /// <paramref name="shadowRefusedShort"/>: leased shadow windows that count a shadow refusal when short of lease (the
    /// authority had nothing left for them) instead of reporting <see cref="ReserveResult.LeaseShort"/>.
    /// </summary>
    public ReserveResult TryHold(long amount, long tokens, int policyMask, int shadowRefusedShort, out ChainHolds holds, out AccountId refused)
    {
        holds = default;
        ChainLink[] chain = links;
        for (int i = 0; i < chain.Length; i++)
        {
            ReserveResult result = chain[i].TryHold(amount, tokens, policyMask, shadowRefusedShort, ref holds);
            if (result != ReserveResult.Ok)
            {
                ReleaseBefore(i, amount, tokens, holds.HeldMask, holds.Generations);
                refused = chain[i].Id;
                return result;
            }
        }

        refused = AccountId.None;
        return ReserveResult.Ok;
    }

    /// <summary>Gives back everything a reservation holds on this chain, in reverse order.</summary>
    public void Release(long amount, long tokens, int heldMask, long generations) =>
        ReleaseBefore(links.Length, amount, tokens, heldMask, generations);

    /// <summary>Replay of a reserve: holds on every link without a check, in the generations the record names.</summary>
    public void ReplayHold(long amount, long tokens, int heldMask, long generations)
    {
        foreach (ref readonly ChainLink link in links.AsSpan())
        {
            link.ReplayHold(amount, tokens, heldMask, generations);
        }
    }

    private void ReleaseBefore(int end, long amount, long tokens, int heldMask, long generations)
    {
        ChainLink[] chain = links;
        for (int i = end - 1; i >= 0; i--)
        {
            chain[i].Release(amount, tokens, heldMask, generations);
        }
    }
}

/// <summary>
/// One account of a chain: a wallet or key budget (its <see cref="BalanceCell"/>), or a policy window (its
/// <see cref="WindowCell"/> with the rules it is judged by). Immutable; its counters are the cells it points at.
/// </summary>
internal readonly struct ChainLink
{
    public readonly AccountId Id;
    private readonly UserState? user;
    private readonly KeyState? key;
    private readonly PolicyConfig? policy;
    private readonly PolicyWindow? window;
    /// <summary>False for an unlimited key's budget: tracked, never refuses.</summary>
    private readonly bool enforced;

    private ChainLink(AccountId id, UserState? user, KeyState? key, PolicyConfig? policy, PolicyWindow? window, bool enforced)
    {
        Id = id;
        this.user = user;
        this.key = key;
        this.policy = policy;
        this.window = window;
        this.enforced = enforced;
    }

    public static ChainLink Wallet(UserState user) => new(AccountId.Wallet(user.UserId), user, null, null, null, enforced: true);

    public static ChainLink KeyBudget(KeyState key, bool enforced) => new(AccountId.KeyBudget(key.TokenId), null, key, null, null, enforced);

    public static ChainLink Window(int tokenId, int index, PolicyConfig policy, PolicyWindow window) =>
        new(AccountId.Window(tokenId, index), null, null, policy, window, enforced: true);

    /// <summary>The window of a window link (null for a balance).</summary>
    public PolicyWindow? PolicyWindow => window;

    /// <summary>The rules of a window link (null for a balance).</summary>
    public PolicyConfig? Policy => policy;

    public ReserveResult TryHold(long amount, long tokens, int policyMask, int shadowRefusedShort, ref ChainHolds holds)
    {
        switch (Id.Kind)
        {
            case AccountKind.Wallet:
                return user!.Wallet.TryReserve(amount) ? ReserveResult.Ok : ReserveResult.InsufficientUserQuota;
            case AccountKind.KeyBudget when !enforced:
                key!.Budget.ReserveUnchecked(amount); // not enforced, still tracked
                return ReserveResult.Ok;
            case AccountKind.KeyBudget:
                return key!.Budget.TryReserve(amount) ? ReserveResult.Ok : ReserveResult.InsufficientKeyQuota;
            default:
                return TryHoldWindow(amount, tokens, policyMask, shadowRefusedShort, ref holds);
        }
    }

    private ReserveResult TryHoldWindow(long amount, long tokens, int policyMask, int shadowRefusedShort, ref ChainHolds holds)
    {
        int index = Id.PolicyIndex, bit = 1 << index;
        if ((policyMask & bit) == 0)
        {
            return ReserveResult.Ok; // not in service, or not for this model
        }

        ReserveResult result = window!.Cell.TryReserve(policy!.InMetric(amount, tokens), policy.Boundary, out ushort generation);
        if (result != ReserveResult.Ok && window.Cell.IsLeased && (!policy.Shadow || (shadowRefusedShort & bit) == 0))
        {
            // Leased, the word is this node's lease: too little of it says nothing about the window yet (the authority decides).
            return ReserveResult.LeaseShort;
        }

        if (result != ReserveResult.Ok && !policy.Shadow)
        {
            return result;
        }

        holds.Generations |= (long)generation << (index * 16);
        if (result == ReserveResult.Ok)
        {
            holds.HeldMask |= bit;
        }
        else
        {
            holds.ShadowRefusedMask |= bit; // a shadow policy's "no" refuses nothing: counted once admitted, not held
        }

        return ReserveResult.Ok;
    }

    public void Release(long amount, long tokens, int heldMask, long generations)
    {
        switch (Id.Kind)
        {
            case AccountKind.Wallet:
                user!.Wallet.Release(amount);
                break;
            case AccountKind.KeyBudget:
                key!.Budget.Release(amount);
                break;
            default:
                if ((heldMask & (1 << Id.PolicyIndex)) != 0)
                {
                    window!.Cell.Release(ReservationRecord.GenerationIn(generations, Id.PolicyIndex), policy!.InMetric(amount, tokens));
                }

                break;
        }
    }

    public void ReplayHold(long amount, long tokens, int heldMask, long generations)
    {
        switch (Id.Kind)
        {
            case AccountKind.Wallet:
                user!.Wallet.ReserveUnchecked(amount);
                break;
            case AccountKind.KeyBudget:
                key!.Budget.ReserveUnchecked(amount);
                break;
            default:
                if ((heldMask & (1 << Id.PolicyIndex)) != 0)
                {
                    window!.Cell.ReplayReserve(ReservationRecord.GenerationIn(generations, Id.PolicyIndex), policy!.InMetric(amount, tokens));
                }

                break;
        }
    }
}
