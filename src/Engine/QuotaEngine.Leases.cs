using Quota.Engine.Accounts;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Engine;

// Leased windows (docs/design.md "Leases"): the async door into admission and the reports. The synchronous Reserve never
// waits: a window whose lease is too small refuses with LeaseShort; ReserveAsync then asks the authority for more, adds the
// grant to the lease (one LeaseGrant record) and decides again. ReportLeasesAsync moves charged units from the node's lease
// to the window's usage at the authority and gives back ended windows' leases (one LeaseReport record each). Grants and
// reports change a window under its key's lock, where rollovers and saves do, so the log orders them exactly.
public sealed partial class QuotaEngine
{
    /// <summary>Reports applied and durable whose authority call failed or was cancelled: the next report sends them first.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<LeaseReportPlan> unsentReports = new();

    /// <summary>
    /// Reserves like <see cref="Reserve(int, in ReserveRequest, long)"/>; when a leased window's lease is short, asks the
    /// lease authority for more and tries again, so the outcome is what one node with the whole window would decide (a
    /// grant of 0 refuses with <see cref="ReserveResult.PolicyExhausted"/> or <see cref="ReserveResult.PolicyEstimateTooLarge"/>).
    /// Completes synchronously, without allocating, whenever no lease is short. After
    /// <see cref="EngineLimits.LeaseAttemptsMax"/> grants that another node's requests took first it returns
    /// <see cref="ReserveResult.LeaseShort"/> (transient: retry).
    /// </summary>
    [System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
    public ValueTask<ReserveOutcome> ReserveAsync(int tokenId, ReserveRequest request, long nowMs, CancellationToken cancellationToken = default)
    {
        ReserveOutcome outcome = Reserve(tokenId, request, nowMs);
        return outcome.Result == ReserveResult.LeaseShort && leases is not null
            ? ReserveWithGrantsAsync(tokenId, request, nowMs, outcome, cancellationToken)
            : new ValueTask<ReserveOutcome>(outcome);
    }

    private async ValueTask<ReserveOutcome> ReserveWithGrantsAsync(int tokenId, ReserveRequest request, long nowMs, ReserveOutcome outcome, CancellationToken cancellationToken)
    {
        int shadowRefusedShort = 0;
        for (int attempt = 0; attempt < EngineLimits.LeaseAttemptsMax && outcome.Result == ReserveResult.LeaseShort; attempt++)
        {
            if (PlanGrant(outcome.Account, request) is { } ask)
            {
                await SendPendingMoveAsync(ask.Key, outcome.Account.PolicyIndex, cancellationToken).ConfigureAwait(false);
                long granted = await leases!.GrantAsync(ask.Window, ask.Units, cancellationToken).ConfigureAwait(false);
                if (granted <= 0 && !ask.Shadow)
                {
                    return AuthorityRefusal(outcome, ask);
                }

                // A shadow policy refuses nothing: with nothing left it counts a shadow refusal, as without leases.
                shadowRefusedShort |= granted <= 0 ? 1 << outcome.Account.PolicyIndex : 0;
                if (granted > 0 && !TryAddGrant(ask, granted, nowMs))
                {
                    // The window ended or the log is full: the node never held it, so it goes straight back.
                    await leases.ReportAsync(ask.Window, 0, granted, cancellationToken).ConfigureAwait(false);
                }
            }

            outcome = Reserve(tokenId, request, nowMs, shadowRefusedShort); // with the grant, or the window changed meanwhile
        }

        return outcome;
    }

    /// <summary>What a short window asks for: what the request lacks, and <see cref="EngineOptions.LeaseAheadRequests"/> more of it.</summary>
    private readonly record struct GrantAsk(KeyState Key, PolicyWindow Counters, ushort Generation, LeaseWindow Window, long Units, BoundaryMode Boundary, bool Shadow);

    private GrantAsk? PlanGrant(AccountId account, in ReserveRequest request)
    {
        if (account.Kind != AccountKind.Window || FindKey(account.OwnerId) is not { } key)
        {
            return null;
        }

        KeyConfig config = key.Config;
        if (config.Windows[account.PolicyIndex] is not { } window || config.Policies[account.PolicyIndex] is not { } policy)
        {
            return null;
        }

        long need = policy.InMetric(request.AmountUnits, request.Tokens);
        long room = window.Cell.Headroom;
        // Both need some lease left (a request of 0 tokens too); strict also needs it to cover the request, while graceful
        // admits on any (the boundary request may overshoot).
        long shortfall = (policy.Boundary == BoundaryMode.Strict ? Math.Max(need, 1) : 1) - room;
        if (shortfall <= 0)
        {
            return null; // another request's finish gave enough back meanwhile
        }

        long units = Math.Min(shortfall + (need * options.LeaseAheadRequests), EngineLimits.PolicyQuotaMaxUnits);
        var lease = new LeaseWindow(account, window.Cell.WindowStartMs, window.Cell.WindowEndMs, window.Cell.QuotaUnits);
        return new GrantAsk(key, window, window.Cell.Generation, lease, units, policy.Boundary, policy.Shadow);
    }

    /// <summary>
    /// The authority granted nothing: the window itself refuses, as one node with the whole window would — strict with some
    /// lease left that does not cover the request: too large; otherwise exhausted.
    /// </summary>
    private static ReserveOutcome AuthorityRefusal(ReserveOutcome shortOutcome, GrantAsk ask)
    {
        bool someLeft = ask.Counters.Cell.Headroom > 0;
        ReserveResult result = ask.Boundary == BoundaryMode.Strict && someLeft ? ReserveResult.PolicyEstimateTooLarge : ReserveResult.PolicyExhausted;
        return shortOutcome with { Result = result };
    }

    /// <summary>Adds a grant to the lease it was asked for, under the key's lock, appended before it is published; false if that window is gone.</summary>
    private bool TryAddGrant(GrantAsk ask, long granted, long nowMs)
    {
        KeyState key = ask.Key;
        int index = ask.Window.Account.PolicyIndex;
        ushort generation = ask.Generation;
        if (!deltas.TryPromise(1))
        {
            return false;
        }

        try
        {
            lock (key.Gate)
            {
                if (key.Config.Windows[index] != ask.Counters || ask.Counters.Cell.Generation != generation)
                {
                    return false;
                }

                deltas.Append(DeltaRecord.LeaseGrant(key.TokenId, key.User.UserId, index, generation, granted, nowMs));
                return ask.Counters.Cell.Grant(generation, granted);
            }
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    /// <summary>
    /// Reports every leased window's new charges to the lease authority, and the closing report of every leased window
    /// that ended; with <paramref name="giveBackFree"/>, also gives back the free part of every current lease (before a
    /// stop, or when traffic moves elsewhere). Each report is one LeaseReport record, appended before it changes the
    /// window; the authority hears of it only once those records are durable, so a crash can never take back a lease the
    /// authority already handed on. A report whose authority call failed (the failure is rethrown) is sent again by the
    /// next call. A background loop calls this every ~100 ms. Returns the reports sent. Cost: one look at every
    /// key's policy positions (allocation only for what is sent).
    /// </summary>
    [System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
    public async ValueTask<int> ReportLeasesAsync(long nowMs, bool giveBackFree = false, CancellationToken cancellationToken = default)
    {
        if (leases is null)
        {
            return 0;
        }

        List<LeaseReportPlan>? taken = null;
        while (unsentReports.TryDequeue(out LeaseReportPlan unsent))
        {
            (taken ??= []).Add(unsent);
        }

        for (int tokenId = 1; tokenId <= LastTokenId; tokenId++)
        {
            if (FindKey(tokenId) is not { Slots: not null } key)
            {
                continue;
            }

            for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
            {
                if (key.Slots[index] is not { } slot)
                {
                    continue;
                }

                await SendPendingMoveAsync(key, index, cancellationToken).ConfigureAwait(false);
                if (TakeClosingReport(key, index, slot, nowMs) is { } closing)
                {
                    (taken ??= []).Add(closing);
                }

                if (TakeReport(key, index, slot, giveBackFree, nowMs) is { } report)
                {
                    (taken ??= []).Add(report);
                }
            }
        }

        return taken is null ? 0 : await SendWhenDurableAsync(taken, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends reports already applied and appended, once their records are durable. Reports add up and commute with grants,
    /// so a failed one and those after it are kept, in any order, for the next call.
    /// </summary>
    private async ValueTask<int> SendWhenDurableAsync(List<LeaseReportPlan> taken, CancellationToken cancellationToken)
    {
        int sent = 0;
        try
        {
            await deltas.WhenDurableAsync(cancellationToken).ConfigureAwait(false);
            for (; sent < taken.Count; sent++)
            {
                LeaseReportPlan plan = taken[sent];
                await leases!.ReportAsync(plan.Window, plan.ChargedUnits, plan.GivenBackUnits, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            for (int i = sent; i < taken.Count; i++)
            {
                unsentReports.Enqueue(taken[i]);
            }

            throw;
        }

        return sent;
    }

    /// <summary>
    /// Moves the authority's book of a window a save re-aligned, once the save is durable (before the window's next grant,
    /// which must see its usage). A move the call fails on stays pending; a later save's move then starts where this one ended.
    /// </summary>
    private async ValueTask SendPendingMoveAsync(KeyState key, int index, CancellationToken cancellationToken)
    {
        if (key.Slots?[index] is not { PendingMove: { } move } slot)
        {
            return;
        }

        await deltas.WhenDurableAsync(cancellationToken).ConfigureAwait(false);
        var window = new LeaseWindow(AccountId.Window(key.TokenId, index), move.ToStartMs, move.ToEndMs, slot.Cell.QuotaUnits);
        await leases!.MoveAsync(move.FromStartMs, window, cancellationToken).ConfigureAwait(false);
        lock (key.Gate)
        {
            // Cleared, unless a later save moved the window again meanwhile: that move now starts where this one ended.
            slot.PendingMove = slot.PendingMove is { } later && later != move ? later with { FromStartMs = move.ToStartMs } : null;
        }
    }

    private readonly record struct LeaseReportPlan(LeaseWindow Window, long ChargedUnits, long GivenBackUnits);

    private LeaseReportPlan? TakeClosingReport(KeyState key, int index, PolicySlot slot, long nowMs)
    {
        if (!slot.Closing.Pending || !deltas.TryPromise(1))
        {
            return null;
        }

        try
        {
            lock (key.Gate)
            {
                LeaseClosing closing = slot.Closing;
                if (!closing.Pending)
                {
                    return null;
                }

                deltas.Append(DeltaRecord.LeaseReport(key.TokenId, key.User.UserId, index, closing.Generation, closing.ChargedUnits, closing.GivenBackUnits, closing: true, nowMs));
                slot.Closing = default;
                var window = new LeaseWindow(AccountId.Window(key.TokenId, index), closing.WindowStartMs, closing.WindowEndMs, closing.QuotaUnits);
                return new LeaseReportPlan(window, closing.ChargedUnits, closing.GivenBackUnits);
            }
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    private LeaseReportPlan? TakeReport(KeyState key, int index, PolicySlot slot, bool giveBackFree, long nowMs)
    {
        if (!slot.Cell.IsLeased || (slot.Cell.Used == slot.Cell.Reported && !(giveBackFree && slot.Cell.Headroom > 0)) || !deltas.TryPromise(1))
        {
            return null;
        }

        try
        {
            lock (key.Gate)
            {
                ref WindowCell cell = ref slot.Cell;
                ushort generation = cell.Generation;
                long charged = cell.Used - cell.Reported; // settles go on meanwhile: what they add is reported next time
                long givenBack = giveBackFree ? cell.TakeForGiveBack(generation, long.MaxValue) : 0;
                if (charged == 0 && givenBack == 0)
                {
                    return null;
                }

                deltas.Append(DeltaRecord.LeaseReport(key.TokenId, key.User.UserId, index, generation, charged, givenBack, closing: false, nowMs));
                cell.ApplyReport(generation, charged, givenBack);
                var window = new LeaseWindow(AccountId.Window(key.TokenId, index), cell.WindowStartMs, cell.WindowEndMs, cell.QuotaUnits);
                return new LeaseReportPlan(window, charged, givenBack);
            }
        }
        finally
        {
            deltas.EndPromise(1);
        }
    }

    /// <summary>Whether some window admits against a lease or still owes the authority its closing report (after recovery).</summary>
    internal bool HoldsLeases()
    {
        for (int tokenId = 1; tokenId <= LastTokenId; tokenId++)
        {
            if (FindKey(tokenId) is not { Slots: not null } key)
            {
                continue;
            }

            foreach (PolicySlot? slot in key.Slots)
            {
                if (slot is not null && (slot.Cell.IsLeased || slot.Closing.Pending))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Replay of a grant or a report: the same changes, in the generation the record names. A grant or a running report
    /// on a window the log did not start leased is a corrupt log (a closing report names a window that ended).
    /// </summary>
    private static void ApplyLease(in DeltaRecord record, PolicySlot slot)
    {
        if (!record.Closing && !slot.Cell.IsLeased)
        {
            throw new InvalidDataException($"{record.Kind} record for token {record.TokenId} policy {record.PolicyIndex}, whose window is not leased");
        }

        if (record.Kind == DeltaKind.LeaseGrant)
        {
            slot.Cell.Grant(record.Generation, record.GrantedUnits);
        }
        else if (record.Closing)
        {
            if (slot.Closing.Pending && slot.Closing.Generation == record.Generation)
            {
                slot.Closing = default;
            }
        }
        else
        {
            slot.Cell.ReplayGiveBack(record.Generation, record.GivenBackUnits);
            slot.Cell.ApplyReport(record.Generation, record.ReportedChargedUnits, record.GivenBackUnits);
        }
    }
}
