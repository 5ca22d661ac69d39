using System.Globalization;

namespace Quota.Engine.Accounts;

/// <summary>
/// The kinds of account a request is admitted through (docs/design.md "The admission chain"). Persisted and on the
/// wire through <see cref="AccountId"/>: never renumber, only append. Values 5–15 are kept for team accounts.
/// </summary>
public enum AccountKind : byte
{
    /// <summary>No account: a refusal that is not about an account (unknown key, invalid amount, …).</summary>
    None = 0,
    /// <summary>A user's wallet; <see cref="AccountId.OwnerId"/> is the user id.</summary>
    Wallet = 1,
    /// <summary>A key's lifetime budget; <see cref="AccountId.OwnerId"/> is the key id.</summary>
    KeyBudget = 2,
    /// <summary>One policy window of a key; <see cref="AccountId.OwnerId"/> is the key id, <see cref="AccountId.PolicyIndex"/> the position.</summary>
    Window = 3,
}

/// <summary>
/// Names one account of the admission chain: which kind, whose (a user or key id) and, for a window, which policy
/// position. A refusal names the account that refused (<see cref="Model.ReserveOutcome.Account"/>).
/// </summary>
/// <remarks><c>default</c> is <see cref="None"/>.</remarks>
public readonly record struct AccountId
{
    private readonly int positionPlusOne; // so that default has no position (-1)

    private AccountId(AccountKind kind, int ownerId, int policyIndex)
    {
        Kind = kind;
        OwnerId = ownerId;
        positionPlusOne = policyIndex + 1;
    }

    /// <summary>Which kind of account.</summary>
    public AccountKind Kind { get; }

    /// <summary>The user id (wallet) or key id (budget, window); 0 for <see cref="AccountKind.None"/>.</summary>
    public int OwnerId { get; }

    /// <summary>The policy position (0 … 3) of a window; -1 for every other kind.</summary>
    public int PolicyIndex => positionPlusOne - 1;

    /// <summary>No account.</summary>
    public static AccountId None => default;

    /// <summary>The wallet of user <paramref name="userId"/>.</summary>
    public static AccountId Wallet(int userId) => new(AccountKind.Wallet, userId, -1);

    /// <summary>The lifetime budget of key <paramref name="tokenId"/>.</summary>
    public static AccountId KeyBudget(int tokenId) => new(AccountKind.KeyBudget, tokenId, -1);

    /// <summary>The window of policy <paramref name="policyIndex"/> of key <paramref name="tokenId"/>.</summary>
    public static AccountId Window(int tokenId, int policyIndex) => new(AccountKind.Window, tokenId, policyIndex);

    /// <summary>A stable, readable name: <c>wallet:3</c>, <c>key-budget:7</c>, <c>window:7:1</c>, <c>none</c>.</summary>
    public override string ToString() => Kind switch
    {
        AccountKind.Wallet => string.Create(CultureInfo.InvariantCulture, $"wallet:{OwnerId}"),
        AccountKind.KeyBudget => string.Create(CultureInfo.InvariantCulture, $"key-budget:{OwnerId}"),
        AccountKind.Window => string.Create(CultureInfo.InvariantCulture, $"window:{OwnerId}:{PolicyIndex}"),
        _ => "none",
    };
}
