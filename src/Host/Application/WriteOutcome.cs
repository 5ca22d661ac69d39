using Quota.Engine.Model;

namespace Quota.Host.Application;

/// <summary>
/// What an admin save did: the engine's outcome, or a version conflict — the document changed since the version the
/// caller read, and nothing was written (docs/api.md "Versions").
/// </summary>
public readonly record struct WriteOutcome(SaveOutcome Saved, bool Conflict)
{
    public bool IsOk => !Conflict && Saved.IsOk;

    public static WriteOutcome Of(SaveOutcome saved) => new(saved, Conflict: false);

    public static WriteOutcome VersionConflict(int id) => new(new SaveOutcome(SpecError.None, id, -1), Conflict: true);
}
