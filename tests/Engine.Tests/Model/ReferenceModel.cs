using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

namespace Quota.Engine.Tests.Model;

/// <summary>
/// A deliberately simple, sequential statement of docs/design.md "Admission" and "Settlement": plain objects and fields, one rule after the
/// other, no concurrency, no packing, no caching. The model-based test runs the same operations on it and on the
/// engine and compares every result and every observable number after each step.
/// </summary>
internal sealed class ReferenceModel(long ttlMs)
{
    public sealed class User
    {
        public long Balance, Reserved, Used;
    }

    public sealed class Policy(QuotaPolicySpec spec)
    {
        public QuotaPolicySpec Spec = spec;
        public long Used, Reserved, StartMs, EndMs, ExhaustedAtMs, ShadowRefusals;
        public bool Shadow => Spec.Enforcement == PolicyEnforcement.Shadow;
        public int Generation, PausedGeneration;
        public TokenStatus PausedFrom;
        public bool Removed;
        public bool Active => !Removed && Spec.Enabled;
        public bool Paused => PausedFrom != TokenStatus.None;
    }

    public sealed class Key(int userId)
    {
        public readonly int UserId = userId;
        public long Remain, Reserved, Used, ExpiresAtMs = -1;
        public bool Unlimited, Deleted;
        public TokenStatus Status = TokenStatus.Enabled;
        public readonly Policy?[] Policies = new Policy?[4];
    }

    public sealed class Reservation(int tokenId, long amount, long tokens, long expiresAtMs)
    {
        public readonly int TokenId = tokenId;
        public readonly long Amount = amount, Tokens = tokens, ExpiresAtMs = expiresAtMs;
        public readonly int[] Generations = new int[4];
        public int Mask;
        public string State = "open";
        public long Charged;
        public bool Exhausted;
    }

    public readonly Dictionary<int, User> Users = [];
    public readonly Dictionary<int, Key> Keys = [];
    public readonly Dictionary<long, Reservation> Reservations = [];
    public readonly List<(AuditAction Action, int TokenId, int PolicyIndex)> Audit = [];

    /// <summary>A request's amount in a policy's metric.</summary>
    private static long In(Policy p, long units, long tokens) => p.Spec.Metric switch
    {
        PolicyMetric.Quota => units,
        PolicyMetric.Tokens => tokens,
        _ => 1,
    };

    /// <summary>Does the policy apply to a request for this model? Unscoped: always; scoped: an exact id or a prefix* match.</summary>
    private static bool AppliesTo(Policy p, string? model) =>
        p.Spec.Models.Count == 0 || p.Spec.Models.Any(m => m == "*" ||
            (model is not null && (m.EndsWith('*') ? model.StartsWith(m[..^1], StringComparison.Ordinal) : model == m)));

    public ReserveOutcome Reserve(int tokenId, long amount, long tokens, string? model, long now, Func<ReservationId> nextId)
    {
        if (amount is <= 0 or > EngineLimits.AmountMaxUnits || tokens is < 0 or > EngineLimits.TokensMax)
        {
            return new(ReserveResult.InvalidAmount, default, 0, -1);
        }

        if (!Keys.TryGetValue(tokenId, out Key? key))
        {
            return new(ReserveResult.KeyNotFound, default, 0, -1);
        }

        if (!key.Deleted)
        {
            RollDue(tokenId, key, now);
        }

        ReserveResult check = key.Deleted ? ReserveResult.KeyNotFound
            : key.Status != TokenStatus.Enabled ? ReserveResult.KeyDisabled
            : key.ExpiresAtMs != -1 && now >= key.ExpiresAtMs ? ReserveResult.KeyExpired
            : ReserveResult.Ok;
        if (check != ReserveResult.Ok)
        {
            return new(check, default, 0, -1);
        }

        int paused = Array.FindIndex(key.Policies, p => p is { Paused: true });
        if (paused >= 0)
        {
            return new(ReserveResult.KeyPaused, default, 0, paused) { Account = AccountId.Window(tokenId, paused) };
        }

        User user = Users[key.UserId];
        if (amount > user.Balance - user.Reserved)
        {
            return new(ReserveResult.InsufficientUserQuota, default, 0, -1) { Account = AccountId.Wallet(key.UserId) };
        }

        if (!key.Unlimited && amount > key.Remain - key.Reserved)
        {
            return new(ReserveResult.InsufficientKeyQuota, default, 0, -1) { Account = AccountId.KeyBudget(tokenId) };
        }

        // A shadow policy judges like any other, but its "no" refuses nothing: counted (once the request is admitted), not held.
        var wouldRefuse = new bool[4];
        for (int i = 0; i < 4; i++)
        {
            if (key.Policies[i] is { Active: true } p && AppliesTo(p, model))
            {
                long room = p.Spec.QuotaUnits - p.Used - p.Reserved;
                ReserveResult verdict = room <= 0 ? ReserveResult.PolicyExhausted
                    : p.Spec.BoundaryMode == BoundaryMode.Strict && In(p, amount, tokens) > room ? ReserveResult.PolicyEstimateTooLarge
                    : ReserveResult.Ok;
                wouldRefuse[i] = verdict != ReserveResult.Ok;
                if (verdict != ReserveResult.Ok && !p.Shadow)
                {
                    return new(verdict, default, 0, i) { Account = AccountId.Window(tokenId, i) };
                }
            }
        }

        var reservation = new Reservation(tokenId, amount, tokens, now + ttlMs);
        user.Reserved += amount;
        key.Reserved += amount;
        for (int i = 0; i < 4; i++)
        {
            if (wouldRefuse[i])
            {
                Policy shadow = key.Policies[i]!;
                if (++shadow.ShadowRefusals == 1)
                {
                    Audit.Add((AuditAction.ShadowRefusal, tokenId, i));
                }

                continue;
            }

            if (key.Policies[i] is { Active: true } p && AppliesTo(p, model))
            {
                p.Reserved += In(p, amount, tokens);
                reservation.Mask |= 1 << i;
                reservation.Generations[i] = p.Generation;
            }
        }

        ReservationId id = nextId();
        Reservations[id.Value] = reservation;
        return new(ReserveResult.Ok, id, reservation.ExpiresAtMs, -1);
    }

    public FinishOutcome Settle(ReservationId id, long actual, long actualTokens, long now)
    {
        if (actual is < 0 or > EngineLimits.AmountMaxUnits || actualTokens is < -1 or > EngineLimits.TokensMax)
        {
            return new(FinishResult.InvalidAmount, 0, false, false);
        }

        if (!Reservations.TryGetValue(id.Value, out Reservation? r))
        {
            return new(FinishResult.NotFound, 0, false, false);
        }

        if (r.State != "open")
        {
            return Replay(r, "settled");
        }

        Finish(r, actual, actualTokens < 0 ? r.Tokens : actualTokens, now, "settled");
        return new(FinishResult.Ok, actual, r.Exhausted, false);
    }

    public FinishOutcome Refund(ReservationId id)
    {
        if (!Reservations.TryGetValue(id.Value, out Reservation? r))
        {
            return new(FinishResult.NotFound, 0, false, false);
        }

        if (r.State != "open")
        {
            return Replay(r, "refunded");
        }

        Release(r);
        r.State = "refunded";
        return new(FinishResult.Ok, 0, false, false);
    }

    public void ExpireDue(long now)
    {
        foreach ((long id, Reservation r) in Reservations)
        {
            if (r.State == "open" && r.ExpiresAtMs <= now)
            {
                Finish(r, r.Amount, r.Tokens, now, "expired");
                Audit.Add((AuditAction.ReservationExpired, r.TokenId, -1));
            }
        }
    }

    public SpecError ResetPolicies(int tokenId, int index, long now)
    {
        if (!Keys.TryGetValue(tokenId, out Key? key) || key.Deleted)
        {
            return SpecError.TokenNotFound;
        }

        var targets = Enumerable.Range(0, 4)
            .Where(i => key.Policies[i] is { Active: true } && (index < 0 || index == i)).ToList();
        if (targets.Count == 0)
        {
            return SpecError.PolicyNotFound;
        }

        RollDue(tokenId, key, now);
        foreach (int i in targets)
        {
            Policy p = key.Policies[i]!;
            p.Used = 0;
            p.ExhaustedAtMs = 0;
            p.PausedFrom = TokenStatus.None;
            Audit.Add((AuditAction.ManualReset, tokenId, i));
        }

        return SpecError.None;
    }

    /// <summary>Rolls one key's due windows, as a reserve of it does before it judges (nothing for an unknown or deleted key).</summary>
    public void RollDue(int tokenId, long now)
    {
        if (Keys.TryGetValue(tokenId, out Key? key) && !key.Deleted)
        {
            RollDue(tokenId, key, now);
        }
    }

    public void RollAllDue(long now)
    {
        foreach ((int tokenId, Key key) in Keys)
        {
            if (!key.Deleted)
            {
                RollDue(tokenId, key, now);
            }
        }
    }

    public SaveOutcome Update(int tokenId, TokenUpdate update, long now)
    {
        if (!Keys.TryGetValue(tokenId, out Key? key) || key.Deleted)
        {
            return new(SpecError.TokenNotFound, tokenId, -1);
        }

        (SpecError error, int index) = SpecValidation.Validate(update);
        if (error != SpecError.None)
        {
            return new(error, tokenId, index);
        }

        key.Remain = update.RemainQuotaUnits ?? key.Remain;
        key.Unlimited = update.UnlimitedQuota ?? key.Unlimited;
        key.ExpiresAtMs = update.ExpiresAtMs ?? key.ExpiresAtMs;
        key.Status = update.Status ?? key.Status;
        if (update.Policies is { } specs)
        {
            SavePolicies(tokenId, key, specs, now);
        }

        return new(SpecError.None, tokenId, -1);
    }

    public bool Delete(int tokenId)
    {
        if (!Keys.TryGetValue(tokenId, out Key? key) || key.Deleted)
        {
            return false;
        }

        key.Deleted = true; // its open reservations stay open: they settle (on the wallet) or expire later
        return true;
    }

    public SpecError Credit(int userId, long delta)
    {
        if (!Users.TryGetValue(userId, out User? user))
        {
            return SpecError.UserNotFound;
        }

        if (delta < 0 && -delta > user.Balance - user.Reserved)
        {
            return SpecError.UserQuotaInvalid;
        }

        user.Balance += delta;
        return SpecError.None;
    }

    public void SavePolicies(int tokenId, Key key, IReadOnlyList<QuotaPolicySpec> specs, long now)
    {
        for (int i = 0; i < 4; i++)
        {
            QuotaPolicySpec? spec = i < specs.Count ? specs[i] : null;
            Policy? p = key.Policies[i];
            if (spec is null)
            {
                if (p is { Removed: false })
                {
                    Retire(tokenId, i, p);
                    p.Removed = true;
                }

                continue;
            }

            if (!spec.Enabled)
            {
                if (p is null)
                {
                    p = key.Policies[i] = new Policy(spec);
                }
                else
                {
                    Retire(tokenId, i, p);
                    p.Spec = spec;
                }
            }
            else if (p is { Removed: false } && p.Spec.Enabled && p.Spec.Metric == spec.Metric)
            {
                if (now >= p.EndMs)
                {
                    Reset(tokenId, i, p, now);
                }

                p.Spec = spec;
                (p.StartMs, p.EndMs) = SimpleWindows.Compute(spec, now);
                SavedExhaustion(tokenId, i, p, now, key);
            }
            else
            {
                p ??= key.Policies[i] = new Policy(spec);
                p.Spec = spec;
                p.Generation++;
                p.Used = p.Reserved = p.ShadowRefusals = 0;
                (p.StartMs, p.EndMs) = SimpleWindows.Compute(spec, now);
                p.ExhaustedAtMs = 0;
                SavedExhaustion(tokenId, i, p, now, key);
            }

            p.Removed = false;
        }
    }

    private void SavedExhaustion(int tokenId, int i, Policy p, long now, Key key)
    {
        if (p.Used < p.Spec.QuotaUnits)
        {
            p.ExhaustedAtMs = 0;
            if (p.Paused)
            {
                p.PausedFrom = TokenStatus.None;
                Audit.Add((AuditAction.UpdateRestore, tokenId, i));
            }

            return;
        }

        if (p.ExhaustedAtMs == 0)
        {
            p.ExhaustedAtMs = now;
        }

        bool pauses = p.Spec.ExhaustedAction == ExhaustedAction.DisableToken && !p.Shadow;
        if (pauses && !p.Paused)
        {
            Pause(tokenId, i, p, key, AuditAction.UpdateDisable);
        }
        else if (!pauses && p.Paused)
        {
            p.PausedFrom = TokenStatus.None;
            Audit.Add((AuditAction.UpdateRestore, tokenId, i));
        }
    }

    private void Retire(int tokenId, int i, Policy p)
    {
        if (p.Paused)
        {
            p.PausedFrom = TokenStatus.None;
            Audit.Add((AuditAction.UpdateRestore, tokenId, i));
        }

        p.Generation++;
        p.Used = p.Reserved = p.StartMs = p.EndMs = p.ExhaustedAtMs = p.ShadowRefusals = 0;
    }

    private void RollDue(int tokenId, Key key, long now)
    {
        for (int i = 0; i < 4; i++)
        {
            if (key.Policies[i] is { Active: true } p && now >= p.EndMs)
            {
                Reset(tokenId, i, p, now);
            }
        }
    }

    private void Reset(int tokenId, int i, Policy p, long now)
    {
        (p.StartMs, p.EndMs) = SimpleWindows.Compute(p.Spec, now);
        p.Generation++;
        p.Used = p.Reserved = p.ExhaustedAtMs = p.ShadowRefusals = 0;
        if (p.Paused && p.Spec.AutoResume)
        {
            p.PausedFrom = TokenStatus.None;
            Audit.Add((AuditAction.AutoRestoreReset, tokenId, i));
        }
    }

    private void Pause(int tokenId, int i, Policy p, Key key, AuditAction action)
    {
        p.PausedFrom = key.Status;
        p.PausedGeneration = p.Generation;
        Audit.Add((action, tokenId, i));
    }

    private void Finish(Reservation r, long charged, long chargedTokens, long now, string state)
    {
        Key key = Keys[r.TokenId];
        User user = Users[key.UserId];
        user.Reserved -= r.Amount;
        user.Balance -= charged;
        user.Used += charged;
        key.Reserved -= r.Amount;
        key.Remain -= charged;
        key.Used += charged;
        for (int i = 0; i < 4; i++)
        {
            if ((r.Mask & (1 << i)) == 0 || key.Policies[i] is not { } p || p.Generation != r.Generations[i])
            {
                continue;
            }

            p.Reserved -= In(p, r.Amount, r.Tokens);
            p.Used += In(p, charged, chargedTokens);
            if (p.Used < p.Spec.QuotaUnits)
            {
                continue;
            }

            r.Exhausted |= !p.Shadow; // a shadow policy never tells the caller "exhausted"
            if (p.ExhaustedAtMs == 0 && p.Active && !key.Deleted)
            {
                p.ExhaustedAtMs = now;
                if (p.Spec.ExhaustedAction == ExhaustedAction.DisableToken && !p.Shadow && !p.Paused)
                {
                    Pause(r.TokenId, i, p, key, AuditAction.ExhaustedDisable);
                }
            }
        }

        r.State = state;
        r.Charged = charged;
    }

    private void Release(Reservation r)
    {
        Key key = Keys[r.TokenId];
        Users[key.UserId].Reserved -= r.Amount;
        key.Reserved -= r.Amount;
        for (int i = 0; i < 4; i++)
        {
            if ((r.Mask & (1 << i)) != 0 && key.Policies[i] is { } p && p.Generation == r.Generations[i])
            {
                p.Reserved -= In(p, r.Amount, r.Tokens);
            }
        }
    }

    private static FinishOutcome Replay(Reservation r, string wanted)
    {
        if (r.State == wanted)
        {
            return new(FinishResult.Ok, r.Charged, r.Exhausted, true);
        }

        FinishResult conflict = r.State switch
        {
            "settled" => FinishResult.AlreadySettled,
            "refunded" => FinishResult.AlreadyRefunded,
            _ => FinishResult.AlreadyExpired,
        };
        return new(conflict, r.Charged, r.Exhausted, false);
    }
}
