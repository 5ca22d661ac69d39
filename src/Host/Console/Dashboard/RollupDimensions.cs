using System.Globalization;
using Quota.Engine.Persistence;
using Quota.Host.Relay;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// What the dashboard counts per hour, and how a log row turns into those counts: a consume row adds one request, its
/// charge and its tokens to its model (with its provider) and to its key; a refusal row adds one to its reason and
/// refusing policy. Other rows count nothing. The ids make one stored document per hour and dimension.
/// </summary>
internal static class RollupDimensions
{
    public const int Model = 0, Key = 1, Refusal = 2;
    public const long HourMs = 3_600_000;

    public static long HourOf(long atMs) => atMs - (((atMs % HourMs) + HourMs) % HourMs);

    /// <summary>The increments of a batch of rows, merged per dimension and hour.</summary>
    public static IReadOnlyCollection<RollupDocument> Of(IReadOnlyCollection<LogDocument> rows)
    {
        var merged = new Dictionary<string, RollupDocument>(StringComparer.Ordinal);
        foreach (LogDocument row in rows)
        {
            long hour = HourOf(row.AtMs);
            if (row.Kind == LogKind.Consume)
            {
                ConsumeRow? consume = ConsumeRow.Read(row);
                long tokens = consume is null ? 0 : consume.PromptTokens + consume.CompletionTokens;
                string model = consume?.Model ?? "", provider = consume?.Provider ?? "default";
                Add(merged, new RollupDocument { HourMs = hour, Family = Model, Name = model, Group = provider, Id = Id(hour, "m", provider, model) }, row.AmountUnits, tokens);
                Add(merged, new RollupDocument { HourMs = hour, Family = Key, TokenId = row.TokenId, UserId = row.UserId, Id = Id(hour, "k", row.TokenId.ToString(CultureInfo.InvariantCulture)) }, row.AmountUnits, tokens);
            }
            else if (row.Kind == LogKind.Refusal)
            {
                RefusalRow? refusal = RefusalRow.Read(row);
                string reason = refusal?.Reason ?? "", period = refusal?.Admission.RefusedBy?.PeriodMode ?? "";
                Add(merged, new RollupDocument
                {
                    HourMs = hour, Family = Refusal, Name = reason, Group = period, PolicyIndex = row.PolicyIndex,
                    Id = Id(hour, "r", reason, row.PolicyIndex.ToString(CultureInfo.InvariantCulture), period),
                }, 0, 0);
            }
        }

        return merged.Values;
    }

    private static void Add(Dictionary<string, RollupDocument> merged, RollupDocument dimension, long units, long tokens)
    {
        if (!merged.TryGetValue(dimension.Id, out RollupDocument? counters))
        {
            merged[dimension.Id] = counters = dimension;
        }

        counters.Requests++;
        counters.Units += units;
        counters.Tokens += tokens;
    }

    /// <summary>The hour and the dimension's parts, joined by a separator no model id or name carries (U+001F).</summary>
    private static string Id(long hour, params string[] parts) => hour.ToString(CultureInfo.InvariantCulture) + "\u001f" + string.Join('\u001f', parts);
}
