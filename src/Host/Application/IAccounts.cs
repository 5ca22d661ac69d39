using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Host.Application;

/// <summary>
/// Where keys and users live: this host's engine alone (<see cref="LocalAccounts"/>), or a cluster's store with this
/// node's engine beside it (<see cref="ClusterAccounts"/>). The wiring picks one at start (<see cref="ApplicationRegistration"/>);
/// <see cref="KeyService"/> and <see cref="UserService"/> are written once against it, and nothing above them asks which.
/// Reads are fresh: the numbers the admin API shows.
/// </summary>
internal interface IAccounts
{
    TokenView? ReadToken(int tokenId, long nowMs);

    /// <summary>A page of keys (null: no such key), in one store round trip in cluster mode.</summary>
    TokenView?[] ReadTokens(int[] tokenIds, long nowMs);

    /// <summary>Users' wallets (null: no such user), in one store round trip in cluster mode.</summary>
    UserView?[] ReadUsers(int[] userIds);

    /// <summary>
    /// The configuration as of now, for a save's version check: the version the save is then checked against where saves
    /// from elsewhere can interleave (a cluster), or -1 where the services' lock alone orders saves (one node).
    /// </summary>
    long Checkpoint();

    (SaveOutcome Outcome, TokenDocument? Label, string? Key) CreateToken(TokenSpec spec, string name);

    /// <summary>Saves a key's change; <c>Stale</c> (nothing written) when <paramref name="checkpoint"/> is no longer current.</summary>
    (SaveOutcome Outcome, bool Stale) UpdateToken(TokenDocument label, TokenUpdate update, string? name, long checkpoint);

    SpecError DeleteToken(TokenDocument label);

    /// <summary>Clears one policy's window (or every enabled one's, <paramref name="policyIndex"/> -1).</summary>
    SpecError ResetPolicies(int tokenId, int policyIndex);

    SaveOutcome CreateUser(string name, long quotaUnits, string? group);

    /// <summary>Saves a user's name and group; false (nothing written) when <paramref name="checkpoint"/> is no longer current.</summary>
    bool UpdateUser(UserDocument label, long checkpoint);

    SpecError CreditUser(int userId, long deltaUnits);

    /// <inheritdoc cref="Admission.ConfirmAsync"/>
    ValueTask<Admitted> HoldAsync(int tokenId, ReserveRequest request, ReserveOutcome reserved);

    /// <inheritdoc cref="Admission.Finished"/>
    void Finished(ReservationId id, long chargedUnits, long tokens, bool refunded);
}
