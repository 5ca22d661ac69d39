using System.Globalization;
using System.Text.Json;
using Quota.Engine.Persistence;
using Quota.Host.ConsoleUi;
using Quota.Host.Relay;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>
/// /api/logs: system and consume logs, newest first; <c>before</c> pages by cursor (rows older than that id), and
/// <c>total</c> is exact without filters and counts matches up to <see cref="LiteConfigStore.LogTotalMax"/> with them
/// (docs/api.md "Logs").
/// </summary>
public static class LogEndpoints
{
    /// <summary>Longest type or action filter (characters).</summary>
    public const int FilterLengthMax = 64;

    public static RouteGroupBuilder MapLogs(this RouteGroupBuilder group)
    {
        group.MapGet("/", (int? token_id, int? user_id, string? type, string? action, int? p, int? size, long? before, QuotaRuntime runtime, HttpContext context) =>
        {
            if (p is < 1)
            {
                return Errors.Problem.Invalid("p", "must be at least 1");
            }

            if (before is < 1)
            {
                return Errors.Problem.Invalid("before", "must be at least 1");
            }

            if (type is { Length: > FilterLengthMax } || action is { Length: > FilterLengthMax })
            {
                return Errors.Problem.Invalid(type is { Length: > FilterLengthMax } ? "type" : "action", $"must be at most {FilterLengthMax} characters");
            }

            int page = p ?? 1, pageSize = Math.Clamp(size ?? 20, 1, 100);
            bool beyondEnd = (long)(page - 1) * pageSize > int.MaxValue; // no log has that many rows: an empty page, never page 1
            LogKind? kind = action is null ? null : LogSentences.KindOf(action);
            bool? consume = type switch { null => null, "consume" => true, "system" => false, _ => null };
            bool matchesNothing = (action is not null && kind is null) || (type is not null && consume is null);
            if (beyondEnd || matchesNothing)
            {
                return Results.Ok(new LogPage([], matchesNothing ? 0 : runtime.Store.QueryLogs(new LogQuery(token_id, user_id, consume, kind, 1, 1, BeforeId: before)).Total));
            }

            (IReadOnlyList<LogDocument> rows, int total) = runtime.Store.QueryLogs(new LogQuery(token_id, user_id, consume, kind, page, pageSize, BeforeId: before));
            return Results.Ok(new LogPage(Render(rows, runtime, context.Request.Headers.AcceptLanguage.ToString()), total));
        }).WithSummary("System and consume logs, newest first (before: rows older than that id); total exact without filters, counted up to 1,000 with them; content in the reader's language (Accept-Language)")
            .Produces<LogPage>().ProducesProblem(StatusCodes.Status400BadRequest);
        return group;
    }

    /// <summary>The rows as API items, their <c>content</c> rendered in <paramref name="acceptLanguage"/>'s language, times in UTC.</summary>
    private static LogItem[] Render(IReadOnlyList<LogDocument> rows, QuotaRuntime runtime, string acceptLanguage)
    {
        var names = new Dictionary<int, string>();
        using var culture = CultureScope.Use(Languages.FromAcceptLanguage(acceptLanguage));
        return rows.Select(row =>
        {
            string name = names.TryGetValue(row.TokenId, out string? known) ? known : names[row.TokenId] = runtime.Store.FindToken(row.TokenId)?.Name ?? "";
            ConsumeRow? consume = ConsumeRow.Read(row);
            return new LogItem(
                Id: row.Id,
                CreatedTime: row.AtMs / 1000,
                Type: LogSentences.TypeOf(row),
                UserId: row.UserId,
                TokenId: row.TokenId,
                TokenName: name,
                Action: LogSentences.ActionOf(row.Kind),
                Content: LogSentences.Render(row, name, Utc),
                Params: JsonSerializer.SerializeToElement(LogSentences.Params(row)),
                Model: consume?.Model,
                PromptTokens: consume?.PromptTokens ?? 0,
                CompletionTokens: consume?.CompletionTokens ?? 0,
                Quota: row.AmountUnits);
        }).ToArray();
    }

    private static string Utc(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
