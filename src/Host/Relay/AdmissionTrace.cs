using System.Text.Json.Serialization;
using Quota.Engine.Model;

namespace Quota.Host.Relay;

/// <summary>One account an admission checked: the key itself, the user's wallet, the key's budget, or one of its policies.</summary>
public sealed record CheckedAccount(
    [property: JsonPropertyName("account")] string Account,
    [property: JsonPropertyName("policy_index")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? PolicyIndex = null,
    [property: JsonPropertyName("period_mode")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PeriodMode = null)
{
    public const string Key = "key", Wallet = "wallet", KeyBudget = "key_budget", Policy = "policy", Service = "service";

    public static CheckedAccount Of(PolicyView policy) => new(Policy, policy.Index, policy.Spec.Mode.ToString());
}

/// <summary>
/// Which accounts a request's admission checked, which one refused it (none for an admitted request) and when that one
/// reopens (null: not by itself — a wallet or key budget until it is topped up, a policy that waits for a manual reset,
/// a disabled key). Kept as fields on consume and refusal rows; the console renders them as one sentence
/// (<see cref="ConsoleUi.LogSentences"/>). Built from the key's configuration as read at the row (docs/design.md
/// "Admission": the key, the wallet, the key budget unless unlimited, then every enabled policy that applies to the model).
/// </summary>
public sealed record AdmissionTrace(
    [property: JsonPropertyName("checked")] IReadOnlyList<CheckedAccount> Checked,
    [property: JsonPropertyName("refused_by")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] CheckedAccount? RefusedBy = null,
    [property: JsonPropertyName("reopens_at_ms")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? ReopensAtMs = null)
{
    /// <summary>An admitted request: every account it was held on.</summary>
    public static AdmissionTrace Admitted(TokenView? view, string? model) =>
        new(view is null ? [] : Accounts(view, model, policiesThrough: int.MaxValue, walletAndBudget: true));

    /// <summary>A refused request: the accounts checked up to the one that refused, that one, and when it reopens.</summary>
    public static AdmissionTrace Refused(TokenView? view, ReserveOutcome outcome, string? model)
    {
        if (view is null)
        {
            return new([], new CheckedAccount(CheckedAccount.Key));
        }

        switch (outcome.Result)
        {
            case ReserveResult.KeyPaused when Policy(view, outcome.PolicyIndex) is { } pausing:
                return new([new(CheckedAccount.Key)], CheckedAccount.Of(pausing), Reopens(pausing));
            case ReserveResult.KeyNotFound or ReserveResult.KeyDisabled or ReserveResult.KeyExpired or ReserveResult.KeyPaused:
                return new([new(CheckedAccount.Key)], new(CheckedAccount.Key));
            case ReserveResult.InsufficientUserQuota:
                return new([new(CheckedAccount.Key), new(CheckedAccount.Wallet)], new(CheckedAccount.Wallet));
            case ReserveResult.InsufficientKeyQuota:
                return new([new(CheckedAccount.Key), new(CheckedAccount.Wallet), new(CheckedAccount.KeyBudget)], new(CheckedAccount.KeyBudget));
            case ReserveResult.PolicyExhausted or ReserveResult.PolicyEstimateTooLarge when Policy(view, outcome.PolicyIndex) is { } policy:
                return new(Accounts(view, model, outcome.PolicyIndex, walletAndBudget: true), CheckedAccount.Of(policy), Reopens(policy));
            default: // the engine's own limits (open reservations, log room): every account passed or was not reached
                return new([], new(CheckedAccount.Service));
        }
    }

    private static List<CheckedAccount> Accounts(TokenView view, string? model, int policiesThrough, bool walletAndBudget)
    {
        List<CheckedAccount> accounts = [new(CheckedAccount.Key)];
        if (walletAndBudget)
        {
            accounts.Add(new(CheckedAccount.Wallet));
            if (!view.UnlimitedQuota)
            {
                accounts.Add(new(CheckedAccount.KeyBudget));
            }
        }

        foreach (PolicyView policy in view.Policies)
        {
            if (policy.Index <= policiesThrough && policy.Spec.Enabled && (policy.Spec.AppliesTo(model) || policy.Index == policiesThrough))
            {
                accounts.Add(CheckedAccount.Of(policy));
            }
        }

        return accounts;
    }

    private static PolicyView? Policy(TokenView view, int index) => view.Policies.FirstOrDefault(p => p.Index == index);

    /// <summary>A policy's window end, unless the policy paused the key and waits for a manual reset.</summary>
    private static long? Reopens(PolicyView policy) => policy.PausesKey && !policy.Spec.AutoResume ? null : policy.PeriodEndMs;
}
