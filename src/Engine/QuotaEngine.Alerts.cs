using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

namespace Quota.Engine;

// Budget alerts (docs/alerts.md): a finish whose charge takes a policy window's usage, or a wallet's spend since its
// last top-up, across a threshold emits AuditAction.ThresholdReached through the audit sink. The finish path only
// compares against levels precomputed at save (AlertLevels); these methods run only when a charge is at or above the
// lowest threshold, and emit only on a crossing. No lock, no allocation (the event is a struct).
public sealed partial class QuotaEngine
{
    private bool alertsInReplay;
    private Dictionary<int, (long BaseUnits, long SinceMs)>? replayWalletBases;

    /// <summary>
    /// Sets what a wallet's thresholds are of: its balance at the last top-up (<paramref name="baseUnits"/>, since
    /// <paramref name="sinceMs"/>). The host calls it after a top-up and at start; 0 or less: no wallet alerts.
    /// </summary>
    public bool SetWalletAlertBase(int userId, long baseUnits, long sinceMs)
    {
        if (FindUser(userId) is not { } user)
        {
            return false;
        }

        user.Alerts = WalletLevels(baseUnits, sinceMs);
        return true;
    }

    private AlertLevels? WalletLevels(long baseUnits, long sinceMs) =>
        baseUnits > 0 && options.AlertThresholdsPercent.Count > 0 ? AlertLevels.For(baseUnits, options.AlertThresholdsPercent, sinceMs) : null;

    /// <summary>
    /// Start-up recovery only: the settles and expiries replayed from here on emit their threshold crossings to
    /// <paramref name="sink"/>, at their records' times. A crash can lose a crossing between the engine and the host's
    /// durable outbox; its record is durable, so replay finds it again (the outbox drops one it already has, by id).
    /// The wallets' bases come from the store (a user the log creates gets its base when replay creates it); a wallet
    /// crossing is emitted only for a record after the base was set, as a record before it spent an older top-up.
    /// </summary>
    internal void EmitAlertsInReplay(IAuditSink sink, IEnumerable<(int UserId, long BaseUnits, long SinceMs)> walletBases)
    {
        audit = sink;
        alertsInReplay = true;
        replayWalletBases = [];
        foreach ((int userId, long baseUnits, long sinceMs) in walletBases)
        {
            if (FindUser(userId) is { } user)
            {
                user.Alerts = WalletLevels(baseUnits, sinceMs);
            }
            else
            {
                replayWalletBases[userId] = (baseUnits, sinceMs);
            }
        }
    }

    private void AlertPolicy(KeyState key, int index, PolicyWindow window, PolicyConfig config, long usedAfter, long actual, long nowMs)
    {
        AlertLevels levels = config.Alerts;
        for (int i = 0; i < levels.Units.Length; i++)
        {
            if (levels.Crossed(i, usedAfter, actual))
            {
                audit.Record(new AuditEvent(
                    AuditAction.ThresholdReached, key.TokenId, key.User.UserId, index, nowMs, usedAfter, config.QuotaUnits,
                    window.Cell.WindowEndMs, window.Cell.WindowStartMs, TokenStatus.None, ReservationId.None, 0, config.Metric, levels.Percents[i]));
            }
        }
    }

    private void AlertWallet(KeyState key, AlertLevels levels, long balanceAfter, long charged, long nowMs)
    {
        long spent = levels.BaseUnits - balanceAfter;
        for (int i = 0; i < levels.Units.Length; i++)
        {
            if (levels.Crossed(i, spent, charged))
            {
                audit.Record(new AuditEvent(
                    AuditAction.ThresholdReached, key.TokenId, key.User.UserId, -1, nowMs, spent, levels.BaseUnits,
                    0, levels.SinceMs, TokenStatus.None, ReservationId.None, charged, PolicyMetric.Quota, levels.Percents[i]));
            }
        }
    }
}
