namespace Quota.Engine.Accounts;

/// <summary>A user and the wallet every charge of its keys also draws from.</summary>
internal sealed class UserState(int userId)
{
    public readonly int UserId = userId;
    public BalanceCell Wallet;
    /// <summary>The wallet's alert thresholds, of its balance at the last top-up; null: none (set by the host).</summary>
    public volatile AlertLevels? Alerts;
}
