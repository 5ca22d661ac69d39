using System.Text.Json;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>/api/logs: system and consume logs, newest first.</summary>
public static class LogEndpoints
{
    /// <summary>Longest type or action filter (characters).</summary>
    public const int FilterLengthMax = 64;

    public static RouteGroupBuilder MapLogs(this RouteGroupBuilder group)
    {
        group.MapGet("/", (int? token_id, int? user_id, string? type, string? action, int? p, int? size, QuotaRuntime runtime) =>
        {
            if (p is < 1)
            {
                return Errors.Problem.Invalid("p", "must be at least 1");
            }

            if (type is { Length: > FilterLengthMax } || action is { Length: > FilterLengthMax })
            {
                return Errors.Problem.Invalid(type is { Length: > FilterLengthMax } ? "type" : "action", $"must be at most {FilterLengthMax} characters");
            }

            int page = p ?? 1, pageSize = Math.Clamp(size ?? 20, 1, 100);
            bool beyondEnd = (long)(page - 1) * pageSize > int.MaxValue; // no log has that many rows: an empty page, never page 1
            var query = new LogQuery(token_id, user_id, type, action, beyondEnd ? 1 : page, pageSize);
            (IReadOnlyList<LogDocument> rows, int total) = runtime.Store.QueryLogs(query);
            rows = beyondEnd ? [] : rows;
            var names = new Dictionary<int, string>();
            LogItem[] items = rows.Select(row => new LogItem(
                Id: row.Id,
                CreatedTime: row.CreatedMs / 1000,
                Type: row.Type,
                UserId: row.UserId,
                TokenId: row.TokenId,
                TokenName: names.TryGetValue(row.TokenId, out string? name) ? name : names[row.TokenId] = runtime.Store.FindToken(row.TokenId)?.Name ?? "",
                Action: row.Action,
                Content: row.Content,
                Params: JsonDocument.Parse(row.ParamsJson).RootElement,
                Model: row.Model,
                PromptTokens: row.PromptTokens,
                CompletionTokens: row.CompletionTokens,
                Quota: row.QuotaUnits)).ToArray();
            return Results.Ok(new LogPage(items, total));
        }).WithSummary("System and consume logs, newest first").Produces<LogPage>().ProducesProblem(StatusCodes.Status400BadRequest);
        return group;
    }
}
