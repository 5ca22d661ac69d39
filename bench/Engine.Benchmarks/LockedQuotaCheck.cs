using Quota.Engine.Model;

namespace Quota.Benchmarks;

/// <summary>
/// The locked peer is only a fair peer if it keeps the engine's rules: this runs them through it and throws on the first
/// difference. Called from <see cref="PairBenchmarks"/>' setup, so the CI benchmark smoke (a dry job) checks it too.
/// </summary>
public static class LockedQuotaCheck
{
    public static void Run()
    {
        const long now = 1_800_000_000_000, ttl = 60_000, day = 86_400_000;
        var peer = new LockedQuota(retained: 4, openMax: 8, ttlMs: ttl);
        peer.AddUser(1, wallet: 1000);
        peer.AddKey(1, 1, budget: 10_000, now);
        peer.AddKey(2, 1, budget: 10_000, now, new LockedQuota.Policy(Quota: 700, Strict: true));

        // One wallet shared by the user's keys.
        Expect(peer.Reserve(1, 600, 0, now, out long a), ReserveResult.Ok, "reserve on key 1");
        Expect(peer.Reserve(2, 600, 0, now, out _), ReserveResult.InsufficientUserQuota, "key 2 sees key 1's hold on the wallet");

        // Idempotent finish replies, and conflicts.
        Expect(peer.Settle(a, 500, -1, out long charged, out bool replayed), FinishResult.Ok, "settle");
        Check(charged == 500 && !replayed, "the first settle charges the actual");
        Expect(peer.Settle(a, 1, -1, out charged, out replayed), FinishResult.Ok, "repeated settle");
        Check(charged == 500 && replayed, "a repeated settle replies with the first one's numbers");
        Expect(peer.Refund(a, out _), FinishResult.AlreadySettled, "refund after settle");

        // Strict policy on key 2: the estimate must fit what is left of the window.
        Expect(peer.Reserve(2, 400, 0, now, out long b), ReserveResult.Ok, "reserve 400 of a strict 700");
        Expect(peer.Reserve(2, 101, 0, now, out _), ReserveResult.InsufficientUserQuota, "the wallet has 500 left, 400 of them held");
        peer.AddUser(2, wallet: 1L << 40);
        peer.AddKey(3, 2, budget: 1L << 40, now, new LockedQuota.Policy(Quota: 700, Strict: true));
        Expect(peer.Reserve(3, 600, 0, now, out long c), ReserveResult.Ok, "reserve 600 of a strict 700");
        Expect(peer.Reserve(3, 200, 0, now, out _), ReserveResult.PolicyEstimateTooLarge, "200 does not fit the 100 left");

        // Expiry: the sweep settles an overdue reservation at its estimate; a later settle is a conflict.
        Check(peer.ExpireDue(now + ttl - 1) == 0, "nothing is due before the TTL");
        Check(peer.ExpireDue(now + ttl) == 2, "both open reservations expire at the TTL");
        Expect(peer.Settle(b, 1, -1, out charged, out _), FinishResult.AlreadyExpired, "settle after expiry");
        Check(charged == 400, "an expired reservation was charged its estimate");
        Expect(peer.Reserve(2, 101, 0, now, out _), ReserveResult.InsufficientUserQuota, "wallet: 1000 - 500 - 400 = 100 left");

        // A new window: the old window's charge stays behind, the new one starts empty.
        Expect(peer.Reserve(3, 200, 0, now + ttl, out _), ReserveResult.PolicyEstimateTooLarge, "same window: 600 used of 700");
        Expect(peer.Reserve(3, 700, 0, now + day, out long d), ReserveResult.Ok, "next window: all 700 free");
        Expect(peer.Settle(c, 0, -1, out _, out _), FinishResult.AlreadyExpired, "c expired in the old window");
        Expect(peer.Refund(d, out _), FinishResult.Ok, "refund in the new window");

        // Replies are kept for a bounded horizon (here 4 finished reservations per user), then the id is unknown.
        for (int i = 0; i < 4; i++)
        {
            Expect(peer.Reserve(3, 1, 0, now + day, out long e), ReserveResult.Ok, "reserve");
            Expect(peer.Refund(e, out _), FinishResult.Ok, "refund");
        }

        Expect(peer.Refund(d, out _), FinishResult.NotFound, "an id past the horizon");
        Expect(peer.Settle(12345, 1, -1, out _, out _), FinishResult.NotFound, "an unknown id");
    }

    private static void Expect<T>(T actual, T expected, string what) where T : struct, Enum =>
        Check(actual.Equals(expected), $"{what}: expected {expected}, got {actual}");

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"LockedQuota breaks the engine's rules: {what}");
        }
    }
}
