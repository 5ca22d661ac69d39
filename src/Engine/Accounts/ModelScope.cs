namespace Quota.Engine.Accounts;

/// <summary>
/// Which of a key's policies apply to which model, resolved when the key is saved (docs/design.md "Metrics and scope").
/// Immutable: a save publishes a new one. A key whose policies are all unscoped has none (the fast path: every active
/// policy applies). Matching is ordinal, allocation-free, and bounded by 4 policies × 16 patterns.
/// </summary>
internal sealed class ModelScope
{
    private readonly int unscopedMask;
    private readonly (string Pattern, bool Prefix, int Mask)[] patterns;

    private ModelScope(int unscopedMask, (string, bool, int)[] patterns)
    {
        this.unscopedMask = unscopedMask;
        this.patterns = patterns;
    }

    /// <summary>The scope of a key's policy positions; null when none is scoped.</summary>
    public static ModelScope? Build(PolicySlot?[]? slots)
    {
        if (slots is null)
        {
            return null;
        }

        int unscoped = 0;
        var patterns = new List<(string, bool, int)>();
        for (int index = 0; index < slots.Length; index++)
        {
            IReadOnlyList<string> models = slots[index]?.Config.Spec.Models ?? [];
            if (models.Count == 0 || models.Contains("*"))
            {
                unscoped |= 1 << index;
                continue;
            }

            foreach (string model in models)
            {
                bool prefix = model.EndsWith('*');
                patterns.Add((prefix ? model[..^1] : model, prefix, 1 << index));
            }
        }

        return patterns.Count == 0 ? null : new ModelScope(unscoped, [.. patterns]);
    }

    /// <summary>The policy positions that apply to a request for <paramref name="model"/> (null: an unnamed model).</summary>
    public int MaskFor(string? model)
    {
        int mask = unscopedMask;
        if (model is null)
        {
            return mask;
        }

        foreach ((string pattern, bool prefix, int bit) in patterns)
        {
            bool match = prefix ? model.StartsWith(pattern, StringComparison.Ordinal) : string.Equals(model, pattern, StringComparison.Ordinal);
            mask |= match ? bit : 0;
        }

        return mask;
    }
}
