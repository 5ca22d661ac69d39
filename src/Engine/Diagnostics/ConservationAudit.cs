using Quota.Engine.Accounts;
using Quota.Engine.Reservations;

namespace Quota.Engine.Diagnostics;

/// <summary>
/// The auditor (TigerBeetle's idea): recomputes every account's reserved amount from the open reservations and
/// checks it against the counters, plus each account's internal identities (docs/design.md "Invariants", 2 and 3).
/// Meaningful only while no operation is in flight. Cold path: allocates; used by tests and by operators' checks.
/// </summary>
internal static class ConservationAudit
{
    /// <summary>Returns the violations found; empty when the books balance.</summary>
    public static IReadOnlyList<string> Check(QuotaEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var violations = new List<string>();
        var userHeld = new Dictionary<int, long>();
        var keyHeld = new Dictionary<int, long>();
        var windowHeld = new Dictionary<(int, int), long>();
        SumOpenReservations(engine, userHeld, keyHeld, windowHeld);

        for (int userId = 1; userId <= engine.LastUserId; userId++)
        {
            if (engine.FindUser(userId) is { } user)
            {
                CheckBalance(violations, $"user {userId} wallet", user.Wallet, userHeld.GetValueOrDefault(userId));
            }
        }

        for (int tokenId = 1; tokenId <= engine.LastTokenId; tokenId++)
        {
            if (engine.FindKey(tokenId) is not { IsDeleted: false } key)
            {
                continue;
            }

            CheckBalance(violations, $"key {tokenId} budget", key.Budget, keyHeld.GetValueOrDefault(tokenId));
            for (int index = 0; key.Slots is not null && index < key.Slots.Length; index++)
            {
                if (key.Slots[index] is { Removed: false } slot && slot.Config.Spec.Enabled)
                {
                    CheckWindow(violations, $"key {tokenId} policy {index}", slot, windowHeld.GetValueOrDefault((tokenId, index)));
                }
            }
        }

        return violations;
    }

    private static void SumOpenReservations(
        QuotaEngine engine, Dictionary<int, long> userHeld, Dictionary<int, long> keyHeld, Dictionary<(int, int), long> windowHeld)
    {
        ReservationTable table = engine.Reservations;
        for (int slot = 0; slot < table.Capacity; slot++)
        {
            if (ReservationTable.StateOf(table.StateWordOf(slot)) != ReservationState.Open)
            {
                continue;
            }

            ref ReservationRecord record = ref table[slot];
            userHeld[record.UserId] = userHeld.GetValueOrDefault(record.UserId) + record.AmountUnits;
            keyHeld[record.TokenId] = keyHeld.GetValueOrDefault(record.TokenId) + record.AmountUnits;
            KeyState? key = engine.FindKey(record.TokenId);
            for (int index = 0; index < 4; index++)
            {
                if ((record.PolicyMask & (1 << index)) != 0 &&
                    key?.Slots?[index] is { } policy && policy.Cell.Generation == record.GenerationOf(index))
                {
                    long held = policy.Config.InMetric(record.AmountUnits, record.TokenUnits);
                    windowHeld[(record.TokenId, index)] = windowHeld.GetValueOrDefault((record.TokenId, index)) + held;
                }
            }
        }
    }

    private static void CheckBalance(List<string> violations, string name, in BalanceCell cell, long held)
    {
        if (cell.Reserved != held)
        {
            violations.Add($"{name}: reserved {cell.Reserved} but open reservations hold {held}");
        }

        if (cell.Reserved < 0)
        {
            violations.Add($"{name}: negative reserved {cell.Reserved}");
        }
    }

    private static void CheckWindow(List<string> violations, string name, PolicySlot slot, long held)
    {
        long quota = slot.Config.QuotaUnits;
        WindowCell cell = slot.Cell;
        if (cell.Reserved != held)
        {
            violations.Add($"{name}: reserved {cell.Reserved} but open reservations of this window hold {held}");
        }

        if (cell.QuotaUnits != quota)
        {
            violations.Add($"{name}: the window's quota {cell.QuotaUnits} ≠ the policy's quota {quota}");
        }

        if (cell.Used < 0 || cell.Reserved < 0)
        {
            violations.Add($"{name}: negative counter (used {cell.Used}, reserved {cell.Reserved})");
        }
    }
}
