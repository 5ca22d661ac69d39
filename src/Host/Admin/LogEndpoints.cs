using System.Text.Json;
using Quota.Engine.Persistence;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>/api/logs: system and consume logs, newest first.</summary>
public static class LogEndpoints
{
    public static RouteGroupBuilder MapLogs(this RouteGroupBuilder group)
    {
        group.MapGet("/", (int? token_id, int? user_id, string? type, string? action, int? p, int? size, QuotaRuntime runtime) =>
        {
            var query = new LogQuery(token_id, user_id, type, action, Math.Max(1, p ?? 1), Math.Clamp(size ?? 20, 1, 100));
            (IReadOnlyList<LogDocument> rows, int total) = runtime.Store.QueryLogs(query);
            var names = new Dictionary<int, string>();
            object[] items = rows.Select(row => (object)new
            {
                id = row.Id,
                created_time = row.CreatedMs / 1000,
                type = row.Type,
                user_id = row.UserId,
                token_id = row.TokenId,
                token_name = names.TryGetValue(row.TokenId, out string? name) ? name : names[row.TokenId] = runtime.Store.FindToken(row.TokenId)?.Name ?? "",
                action = row.Action,
                content = row.Content,
                @params = JsonDocument.Parse(row.ParamsJson).RootElement,
                model = row.Model,
                prompt_tokens = row.PromptTokens,
                completion_tokens = row.CompletionTokens,
                quota = row.QuotaUnits,
            }).ToArray();
            return Results.Ok(new { items, total });
        });
        return group;
    }
}
