using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Application;

/// <summary>
/// Keys and users on one host: the engine holds their configuration and numbers (its delta log makes them durable),
/// LiteDB their labels (names, key hashes, groups), written after the engine's change.
/// </summary>
internal sealed class LocalAccounts(QuotaRuntime runtime) : IAccounts
{
    public TokenView? ReadToken(int tokenId, long nowMs) => runtime.Engine.ReadToken(tokenId, nowMs);

    public TokenView?[] ReadTokens(int[] tokenIds, long nowMs)
    {
        var views = new TokenView?[tokenIds.Length];
        for (int i = 0; i < tokenIds.Length; i++)
        {
            views[i] = runtime.Engine.ReadToken(tokenIds[i], nowMs);
        }

        return views;
    }

    public UserView?[] ReadUsers(int[] userIds)
    {
        var views = new UserView?[userIds.Length];
        for (int i = 0; i < userIds.Length; i++)
        {
            views[i] = runtime.Engine.ReadUser(userIds[i]);
        }

        return views;
    }

    public long Checkpoint() => -1;

    public (SaveOutcome Outcome, TokenDocument? Label, string? Key) CreateToken(TokenSpec spec, string name)
    {
        SaveOutcome created = runtime.Engine.CreateToken(spec, runtime.NowMs);
        if (!created.IsOk)
        {
            return (created, null, null);
        }

        string key = ApiKeys.NewKey();
        var label = new TokenDocument
        {
            Id = created.Id,
            UserId = spec.UserId,
            Name = name,
            KeyHash = ApiKeys.Hash(key),
            KeyPreview = ApiKeys.Preview(key),
            CreatedMs = runtime.NowMs,
        };
        runtime.SaveLabel(label);
        return (created, label, key);
    }

    public (SaveOutcome Outcome, bool Stale) UpdateToken(TokenDocument label, TokenUpdate update, string? name, long checkpoint)
    {
        SaveOutcome saved = runtime.Engine.UpdateToken(label.Id, update, runtime.NowMs);
        if (!saved.IsOk)
        {
            return (saved, false);
        }

        runtime.Watched.Observe(label.Id); // a lowered budget or quota can put the key near exhaustion without a log row
        if (name is not null && name != label.Name)
        {
            label.Name = name;
            runtime.SaveLabel(label);
        }
        else
        {
            runtime.Keys.Touch(label.Id); // its status may have changed
        }

        return (saved, false);
    }

    public SpecError DeleteToken(TokenDocument label)
    {
        SpecError error = runtime.Engine.DeleteToken(label.Id, runtime.NowMs);
        if (error == SpecError.None)
        {
            runtime.RemoveLabel(label);
        }

        return error;
    }

    public SpecError ResetPolicies(int tokenId, int policyIndex) => runtime.Engine.ResetPolicies(tokenId, policyIndex, runtime.NowMs);

    public SaveOutcome CreateUser(string name, long quotaUnits, string? group)
    {
        SaveOutcome created = runtime.Engine.CreateUser(quotaUnits);
        if (created.IsOk)
        {
            runtime.SaveUser(new UserDocument { Id = created.Id, Name = name, CreatedMs = runtime.NowMs, Group = group });
        }

        return created;
    }

    public bool UpdateUser(UserDocument label, long checkpoint)
    {
        runtime.SaveUser(label);
        return true;
    }

    public SpecError CreditUser(int userId, long deltaUnits) => runtime.Engine.CreditUser(userId, deltaUnits);

    public ValueTask<Admitted> HoldAsync(int tokenId, ReserveRequest request, ReserveOutcome reserved) => new(new Admitted(reserved, Unavailable: false));

    public void Finished(ReservationId id, long chargedUnits, long tokens, bool refunded)
    {
        // The engine's finish is the whole of it on one host.
    }
}
