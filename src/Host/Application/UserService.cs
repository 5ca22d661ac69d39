using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Relay;
using Quota.Host.Runtime;

namespace Quota.Host.Application;

/// <summary>A user as the admin API and the console show it: its label (null if it has none) and its wallet.</summary>
internal sealed record UserRecord(int Id, UserDocument? Label, UserView Wallet)
{
    public string Name => Label?.Name ?? "";

    /// <summary>Its price group (<see cref="Pricing.DefaultGroup"/> when it names none).</summary>
    public string Group => Label?.Group ?? Pricing.DefaultGroup;

    /// <summary>The version of its name and group (the admin API's ETag; docs/api.md "Versions").</summary>
    public string Version => DocumentVersions.Of(Label ?? new UserDocument { Id = Id });
}

/// <summary>
/// Users as the admin API and the console read and change them, on one host or a cluster node alike (<see cref="IAccounts"/>
/// knows which). A rename or regroup that names the version it read is checked as <see cref="KeyService"/> checks a key's save.
/// </summary>
internal sealed class UserService(QuotaRuntime runtime, IAccounts accounts, Pricing pricing)
{
    private const int StaleRetries = 5;
    private readonly Lock saving = new();

    public UserRecord? Find(int userId) =>
        accounts.ReadUsers([userId])[0] is { } wallet ? new UserRecord(userId, runtime.Store.FindUser(userId), wallet) : null;

    /// <summary>One page of users by id, with their wallets (one store round trip in cluster mode); a user without a wallet is left out.</summary>
    public (IReadOnlyList<UserRecord> Rows, int Total) Page(int skip, int size)
    {
        (IReadOnlyList<UserDocument> labels, int total) = runtime.Store.PageUsers(skip, size);
        UserView?[] wallets = accounts.ReadUsers([.. labels.Select(l => l.Id)]);
        var rows = new List<UserRecord>(labels.Count);
        for (int i = 0; i < labels.Count; i++)
        {
            if (wallets[i] is { } wallet)
            {
                rows.Add(new UserRecord(labels[i].Id, labels[i], wallet));
            }
        }

        return (rows, total);
    }

    /// <summary>
    /// Why <paramref name="group"/> cannot be a user's price group, or null when it can: absent, <c>default</c> or a group
    /// of <c>Pricing:Groups</c>.
    /// </summary>
    public string? GroupProblem(string? group) =>
        group is null || pricing.IsGroup(group) ? null
            : $"is not a price group: use {Pricing.DefaultGroup}{string.Concat(pricing.Groups.Where(g => g != Pricing.DefaultGroup).Order(StringComparer.Ordinal).Select(g => ", " + g))} (Pricing:Groups)";

    /// <summary>Creates a user with a wallet of <paramref name="quotaUnits"/>; <paramref name="group"/> is checked by <see cref="GroupProblem"/>.</summary>
    public SaveOutcome Create(string name, long quotaUnits, string? group = null)
    {
        LabelNames.Require(name);
        SaveOutcome created = accounts.CreateUser(name, quotaUnits, StoredGroup(group));
        if (created.IsOk)
        {
            runtime.RebaseWalletAlerts(created.Id);
        }

        return created;
    }

    /// <summary>
    /// Renames a user or moves it to another price group (null: unchanged); the next request of its keys is priced in the
    /// new group. <paramref name="ifVersion"/>: the version the change was made on (null: not checked).
    /// </summary>
    public WriteOutcome Update(int userId, string? name, string? group, string? ifVersion)
    {
        if (name is not null)
        {
            LabelNames.Require(name);
        }

        lock (saving)
        {
            for (int attempt = 0; attempt < StaleRetries; attempt++)
            {
                long checkpoint = ifVersion is null ? -1 : accounts.Checkpoint();
                if (Find(userId) is not { Label: { } label } current)
                {
                    return WriteOutcome.Of(new SaveOutcome(SpecError.UserNotFound, userId, -1));
                }

                if (!DocumentVersions.Matches(ifVersion, current.Version))
                {
                    return WriteOutcome.VersionConflict(userId);
                }

                label.Name = name ?? label.Name;
                label.Group = group is null ? label.Group : StoredGroup(group);
                if (accounts.UpdateUser(label, checkpoint))
                {
                    return WriteOutcome.Of(new SaveOutcome(SpecError.None, userId, -1));
                }
            }

            return WriteOutcome.VersionConflict(userId);
        }
    }

    /// <summary>Tops up (delta &gt; 0) or debits a wallet, then rebases its alerts (docs/alerts.md).</summary>
    public SpecError Credit(int userId, long deltaUnits)
    {
        SpecError credited = accounts.CreditUser(userId, deltaUnits);
        if (credited == SpecError.None)
        {
            runtime.RebaseWalletAlerts(userId);
        }

        return credited;
    }

    /// <summary>The default group is stored as none, so that a user in it follows the default group's configuration.</summary>
    private static string? StoredGroup(string? group) => group == Pricing.DefaultGroup ? null : group;
}
