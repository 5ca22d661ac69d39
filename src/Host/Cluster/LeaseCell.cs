using Quota.Engine.Model;

namespace Quota.Host.Cluster;

/// <summary>What an account is: a user's wallet, a key's lifetime budget, or one window of one policy of a key.</summary>
internal enum AccountKind : byte
{
    Wallet,
    Budget,
    Window,
}

/// <summary>One account as this node leases it: its store key and what the store needs to judge it.</summary>
/// <param name="WindowEndMs">A window's end (the store forgets the account a day later); 0 for wallets and budgets.</param>
/// <param name="Quota">A window's quota, from the key's document (-1 for wallets and budgets: set by their saves).</param>
internal sealed record AccountRef(
    AccountKind Kind, string Key, int TokenId, int UserId, int PolicyIndex, long WindowStartMs, long WindowEndMs,
    long Quota, bool Graceful, bool Pauses, PolicyMetric Metric)
{
    public static AccountRef Wallet(ClusterStore store, TokenDocumentInStore key) =>
        new(AccountKind.Wallet, store.WalletAccount(key.UserId), key.Id, key.UserId, -1, 0, 0, -1, false, false, PolicyMetric.Quota);

    public static AccountRef Budget(ClusterStore store, TokenDocumentInStore key) =>
        new(AccountKind.Budget, store.BudgetAccount(key.Id), key.Id, key.UserId, -1, 0, 0, -1, false, false, PolicyMetric.Quota);

    /// <summary>The current window of a policy of the key, as the local engine computed it; null for a policy not enabled.</summary>
    public static AccountRef? Window(ClusterStore store, TokenDocumentInStore key, PolicyView window)
    {
        if (window.Index >= key.Policies.Length || key.Policies[window.Index] is not { Enabled: true } spec)
        {
            return null;
        }

        return new AccountRef(AccountKind.Window, store.WindowAccount(key.Id, window.Index, window.PeriodStartMs), key.Id, key.UserId,
            window.Index, window.PeriodStartMs, window.PeriodEndMs, spec.QuotaUnits, spec.BoundaryMode == BoundaryMode.Graceful,
            spec.ExhaustedAction == ExhaustedAction.DisableToken, spec.Metric);
    }
}

/// <summary>
/// This node's lease on one account: <see cref="Available"/> is what it may still admit without asking the store. Taken
/// with a CAS (like the engine's own cells); refilled by one grant at a time (<see cref="Refill"/>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "a SemaphoreSlim needs disposing only once its wait handle is used; this one's never is")]
internal sealed class LeaseCell(AccountRef account)
{
    public AccountRef Account { get; } = account;

    /// <summary>What this node may still hold on the account. Graceful accounts may go below zero by one request.</summary>
    public long Available;

    /// <summary>Until when (this node's <see cref="Environment.TickCount64"/>) the lease is valid; 0: none.</summary>
    public long LeaseUntilTicks;

    /// <summary>Bumped when a lease lapses here: holds of an older lease give nothing back to the new one.</summary>
    public int Epoch;

    /// <summary>Open holds on this account.</summary>
    public int InFlight;

    /// <summary>A finish since the last report: usage to report.</summary>
    public int Dirty;

    public long LastUsedTicks;

    /// <summary>When the last grant's request was sent: a report sent before it cannot speak for the lease after it.</summary>
    public long GrantSentTicks;

    /// <summary>Units taken since the last grant and when that was: the demand a lease is sized from.</summary>
    public long DemandUnits;
    public long DemandSinceTicks;

    /// <summary>The store paused the account (a disable_token policy used up): refused until the window ends or a reset.</summary>
    public volatile bool Paused;

    /// <summary>The cluster-wide usage as the store last told this node.</summary>
    public long StoreUsed;

    /// <summary>This node's lease of the account as the store last reported it (what an idle give-back releases).</summary>
    public long StoreLease;

    /// <summary>
    /// What reservations the gate holds nothing for (recovered at a restart, or open across a rebuild) held on the account
    /// when the store leased it to this node again; 0 once they have all ended. While it is not 0 the lease is kept whole.
    /// </summary>
    public long RecoveredHeld;

    public readonly SemaphoreSlim Refill = new(1, 1);

    public bool LeaseValid(long nowTicks) => Volatile.Read(ref LeaseUntilTicks) > nowTicks;

    /// <summary>Takes <paramref name="amount"/> from the lease if it allows it (strict: all of it fits; graceful: anything is left).</summary>
    public bool TryTake(long amount, long nowTicks)
    {
        while (LeaseValid(nowTicks) && !Paused)
        {
            long current = Volatile.Read(ref Available);
            bool fits = Account.Graceful ? current > 0 : current >= amount;
            if (!fits)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref Available, current - amount, current) == current)
            {
                Interlocked.Add(ref DemandUnits, amount);
                Volatile.Write(ref LastUsedTicks, nowTicks);
                return true;
            }
        }

        return false;
    }
}
