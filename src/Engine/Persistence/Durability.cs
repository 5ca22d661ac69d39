namespace Quota.Engine.Persistence;

/// <summary>When a state change counts as acknowledged (docs/design.md "Durability").</summary>
public enum Durability : byte
{
    /// <summary>At once; a group commit every CommitInterval makes it durable. A crash loses at most the changes not yet committed.</summary>
    WriteBehind = 0,
    /// <summary>After the group commit that holds the change: a crash loses nothing that was acknowledged.</summary>
    Durable = 1,
}
