using System.Text;
using Quota.Engine.Reservations;

namespace Quota.Engine.Tests.Support;

/// <summary>A canonical text of everything observable in an engine: users, keys, policies, reservations.</summary>
internal static class EngineState
{
    public static string Describe(QuotaEngine engine, long nowMs)
    {
        var text = new StringBuilder();
        for (int userId = 1; userId <= engine.LastUserId; userId++)
        {
            text.AppendLine(engine.ReadUser(userId)?.ToString() ?? $"user {userId}: none");
        }

        for (int tokenId = 1; tokenId <= engine.LastTokenId; tokenId++)
        {
            if (engine.ReadToken(tokenId, nowMs) is { } view)
            {
                text.AppendLine(view.ToString());
                foreach (var policy in view.Policies)
                {
                    text.AppendLine($"  {policy} metric {policy.Spec.Metric} models [{string.Join(',', policy.Spec.Models)}]");
                }
            }
            else
            {
                text.AppendLine($"token {tokenId}: none");
            }

            if (engine.FindKey(tokenId) is { Slots: { } slots })
            {
                foreach (var slot in slots.OfType<Engine.Accounts.PolicySlot>())
                {
                    text.AppendLine($"  gen {slot.Cell.Generation} headroom {slot.Cell.Headroom} removed {slot.Removed}");
                }
            }
        }

        ReservationTable table = engine.Reservations;
        for (int slot = 0; slot < table.Capacity; slot++)
        {
            long word = table.StateWordOf(slot);
            if (ReservationTable.StateOf(word) is ReservationState.Free or ReservationState.Claimed)
            {
                continue;
            }

            ref ReservationRecord r = ref table[slot];
            text.AppendLine($"reservation {slot}: {word:x} token {r.TokenId} user {r.UserId} amount {r.AmountUnits} tokens {r.TokenUnits} charged {r.ChargedUnits} charged tokens {r.ChargedTokens} " +
                $"exhausted {r.Exhausted} expires {r.ExpiresAtMs} gens {r.Generations:x} mask {r.PolicyMask}");
        }

        return text.ToString();
    }
}
