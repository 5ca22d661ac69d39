using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Reservations;

namespace Quota.Engine;

/// <summary>
/// The quota engine (docs/design.md): users' wallets, keys' lifetime budgets and their periodic policies, with two-phase
/// accounting (reserve → settle | refund | expire). This file owns construction and the tables; the
/// operations live in the partial files named after them.
/// <para>Concurrency contract: Reserve, Settle and Refund are lock-free and allocation-free and may be called
/// from any number of threads. Structural changes of one key (saving it, window rollover, pause/restore,
/// manual reset, delete) serialize on that key's lock and never block other keys. Time is always the
/// caller's <c>nowMs</c> (UTC Unix milliseconds); <see cref="NowMs"/> reads the injected TimeProvider.</para>
/// </summary>
public sealed partial class QuotaEngine
{
    private readonly EngineOptions options;
    private readonly long reservationTtlMs;
    private IDeltaSink deltas;
    private IAuditSink audit;
    private readonly TimeProvider time;
    private ILeaseAuthority? leases;
    private readonly UserState?[] users;
    private readonly KeyState?[] keys;
    private readonly ReservationTable reservations;
    private readonly IdClaims userIds;
    private readonly IdClaims tokenIds;
    private long shadowRefusalCount;

    /// <summary>
    /// An engine with empty tables, allocated at the sizes in <paramref name="options"/>. With no
    /// <paramref name="deltas"/> it is purely in memory (nothing is opened on disk; state is lost with the process): use
    /// <see cref="PersistentEngine.Open"/> for a durable one.
    /// </summary>
    /// <param name="options">Table sizes and the reservation TTL; validated (throws naming a setting out of range) and copied.</param>
    /// <param name="deltas">Receives every state change as a <see cref="DeltaRecord"/> (see <see cref="IDeltaSink"/>); null: none.</param>
    /// <param name="audit">Receives the owner-visible events (pauses, restores, resets, expiries); null: none.</param>
    /// <param name="time">The clock behind <see cref="NowMs"/>; null: the system clock.</param>
    /// <param name="leases">
    /// Where leased windows get their leases (<see cref="EngineOptions.LeasedWindows"/> must be on); null: none (an engine
    /// with leased windows and no authority still recovers and reserves against the leases it has).
    /// </param>
    public QuotaEngine(EngineOptions? options = null, IDeltaSink? deltas = null, IAuditSink? audit = null, TimeProvider? time = null, ILeaseAuthority? leases = null)
    {
        this.options = (options ?? new EngineOptions()).Validated();
        if (leases is not null && !this.options.LeasedWindows)
        {
            throw new ArgumentException("a lease authority needs EngineOptions.LeasedWindows", nameof(leases));
        }

        this.leases = leases;
        reservationTtlMs = this.options.ReservationTtlMs; // read per reserve: not a TimeSpan conversion each time
        this.deltas = deltas ?? NullDeltaSink.Instance;
        this.audit = audit ?? NullAuditSink.Instance;
        this.time = time ?? TimeProvider.System;
        users = new UserState?[this.options.UsersMax + 1];
        keys = new KeyState?[this.options.KeysMax + 1];
        reservations = new ReservationTable(this.options.ReservationsMax);
        userIds = new IdClaims(this.options.UsersMax);
        tokenIds = new IdClaims(this.options.KeysMax);
    }

    /// <summary>The validated copy of the options this engine was built with.</summary>
    public EngineOptions Options => options;

    /// <summary>Connects a recovered engine to its log and audit sinks (and lease authority), before it serves any request.</summary>
    internal void Attach(IDeltaSink deltaSink, IAuditSink auditSink, ILeaseAuthority? leaseAuthority = null)
    {
        leases = leaseAuthority;
        deltas = deltaSink;
        audit = auditSink;
        alertsInReplay = false;
        replayWalletBases = null;
    }

    /// <summary>
    /// Requests this process admitted that a shadow policy would have refused (one per policy that would have), since it
    /// started: a process-lifetime counter for metrics; each window's exact count is on its <see cref="PolicyView"/>.
    /// </summary>
    public long ShadowRefusalCount => Interlocked.Read(ref shadowRefusalCount);

    /// <summary>The injected clock, in UTC Unix milliseconds.</summary>
    public long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    internal ReservationTable Reservations => reservations;

    internal int LastTokenId => tokenIds.Last;

    internal int LastUserId => userIds.Last;

    internal KeyState? FindKey(int tokenId) =>
        (uint)tokenId < (uint)keys.Length ? Volatile.Read(ref keys[tokenId]) : null;

    internal UserState? FindUser(int userId) =>
        (uint)userId < (uint)users.Length ? Volatile.Read(ref users[userId]) : null;

    /// <summary>
    /// Creates a user with a wallet of <paramref name="quotaUnits"/> (0 … <see cref="EngineLimits.BalanceMaxUnits"/>);
    /// <see cref="SaveOutcome.Id"/> is the new user id (ids are dense, from 1).
    /// </summary>
    public SaveOutcome CreateUser(long quotaUnits) => CreateUser(quotaUnits, userId: 0);

    /// <summary>
    /// Creates a user with the id <paramref name="userId"/> (0: the next dense id). An explicit id is for an engine whose
    /// ids are allocated elsewhere (cluster mode: by the shared store); it must be free and within <see cref="EngineOptions.UsersMax"/>.
    /// </summary>
    public SaveOutcome CreateUser(long quotaUnits, int userId)
    {
        if (quotaUnits is < 0 or > EngineLimits.BalanceMaxUnits)
        {
            return new SaveOutcome(SpecError.UserQuotaInvalid, 0, -1);
        }

        if (!deltas.TryPromise(1))
        {
            return new SaveOutcome(SpecError.LogFull, 0, -1);
        }

        try
        {
            // The id is claimed before the credit is logged: a create that lost the id appends nothing.
            if (userId != 0)
            {
                if (!userIds.TryTake(userId))
                {
                    return new SaveOutcome(SpecError.IdTaken, 0, -1);
                }
            }
            else if ((userId = userIds.TakeNext()) == 0)
            {
                return new SaveOutcome(SpecError.TooManyUsers, 0, -1);
            }

            var user = new UserState(userId);
            deltas.Append(DeltaRecord.UserCredit(userId, quotaUnits, NowMs));
            user.Wallet.Credit(quotaUnits);
            Volatile.Write(ref users[userId], user);
            return new SaveOutcome(SpecError.None, userId, -1);
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    /// <summary>Tops up (positive) or debits (negative) a wallet; a debit never takes it below what is reserved.</summary>
    public SpecError CreditUser(int userId, long deltaUnits)
    {
        UserState? user = FindUser(userId);
        if (user is null)
        {
            return SpecError.UserNotFound;
        }

        if (deltaUnits is < -EngineLimits.BalanceMaxUnits or > EngineLimits.BalanceMaxUnits)
        {
            return SpecError.UserQuotaInvalid;
        }

        if (!deltas.TryPromise(1))
        {
            return SpecError.LogFull;
        }

        try
        {
            if (deltaUnits >= 0 ? !user.Wallet.TryCredit(deltaUnits, EngineLimits.BalanceMaxUnits) : !user.Wallet.TryDebit(-deltaUnits))
            {
                return SpecError.UserQuotaInvalid;
            }

            RaceHooks.Reached(RaceHooks.Point.WalletChanged);
            // An addition: it commutes with every concurrent reserve and settle of the wallet. A top-up becomes
            // admissible only once logged, so no reserve that spends it can reach the log before it.
            deltas.Append(DeltaRecord.UserCredit(userId, deltaUnits, NowMs));
            if (deltaUnits > 0)
            {
                user.Wallet.PublishBalanceChange(deltaUnits);
            }

            return SpecError.None;
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    /// <summary>A copy of the user's wallet now, or null for an unknown id. Counters may move while it is read.</summary>
    public UserView? ReadUser(int userId) =>
        FindUser(userId) is { } user
            ? new UserView(userId, user.Wallet.Balance, user.Wallet.Used, user.Wallet.Reserved)
            : null;
}
