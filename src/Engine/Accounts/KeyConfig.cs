using Quota.Engine.Model;

namespace Quota.Engine.Accounts;

/// <summary>
/// Everything the request path reads about a key besides its counters: status, expiry, whether the budget is enforced,
/// which policies are in service and for which models, each policy's rules and the windows it counts in, and the admission
/// chain over them (<see cref="AdmissionChain"/>). Immutable and
/// published whole with one reference write (<see cref="KeyState.Publish"/>), so a reserve that reads it once sees the
/// old or the new configuration whole (docs/design.md "Invariants", configuration publication).
/// </summary>
internal sealed class KeyConfig
{
    // StatusWord layout: bits 0-1 operator status (1 enabled, 2 disabled), bits 4-7 paused-by-policy mask,
    // bit 8 deleted. One word so the hot path learns "may this key be used at all" in one read.
    public const int OperatorStatusMask = 0b11;
    public const int PausedShift = 4;
    public const int PausedMask = 0b1111 << PausedShift;
    public const int DeletedFlag = 1 << 8;

    private static readonly PolicyConfig?[] NoPolicies = new PolicyConfig?[EngineLimits.PoliciesPerKeyMax];
    private static readonly PolicyWindow?[] NoWindows = new PolicyWindow?[EngineLimits.PoliciesPerKeyMax];

    /// <summary>The configuration of <paramref name="key"/> just made: enabled, never expires, budget enforced, no policies.</summary>
    public static KeyConfig Initial(KeyState key) =>
        new((int)TokenStatus.Enabled, -1, false, 0, null, NoPolicies, NoWindows, AdmissionChain.Build(key, false, NoPolicies, NoWindows));

    public KeyConfig(int statusWord, long expiresAtMs, bool unlimited, int activeMask, ModelScope? scope, PolicyConfig?[] policies, PolicyWindow?[] windows, AdmissionChain chain)
    {
        Chain = chain;
        StatusWord = statusWord;
        ExpiresAtMs = expiresAtMs;
        Unlimited = unlimited;
        ActiveMask = activeMask;
        Scope = scope;
        Policies = policies;
        Windows = windows;
    }

    public readonly int StatusWord;
    /// <summary>-1: never.</summary>
    public readonly long ExpiresAtMs;
    public readonly bool Unlimited;
    /// <summary>Bit i set ⇔ position i holds a policy in service (saved, enabled, not removed) of a key not deleted.</summary>
    public readonly int ActiveMask;
    /// <summary>Which policies apply to which model; null when none is scoped (every active policy applies).</summary>
    public readonly ModelScope? Scope;
    /// <summary>Each position's rules (null: never saved), by position.</summary>
    public readonly PolicyConfig?[] Policies;
    /// <summary>Each position's windows (null: never saved), by position: the counters <see cref="Policies"/> judge.</summary>
    public readonly PolicyWindow?[] Windows;
    /// <summary>The accounts a request of this key is admitted through, in check order, built with this configuration.</summary>
    public readonly AdmissionChain Chain;

    public TokenStatus OperatorStatus => (TokenStatus)(StatusWord & OperatorStatusMask);

    public bool IsDeleted => (StatusWord & DeletedFlag) != 0;
}
