using System.Text.Json;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>/api/tokens: keys with their policies. Everything is validated before anything changes.</summary>
public static class TokenEndpoints
{
    public static RouteGroupBuilder MapTokens(this RouteGroupBuilder group)
    {
        group.MapPost("/", CreateAsync).Accepts<TokenInput>("application/json").WithSummary("Create an API key (the key is returned only here)")
            .Produces(StatusCodes.Status201Created).ProducesValidationProblem();
        group.MapGet("/", List).WithSummary("List keys, filtered by user and display_status");
        group.MapGet("/{id:int}", (int id, QuotaRuntime runtime) => Read(runtime, id) is { } token ? Results.Ok(token) : Problem.NotFound($"token {id}"))
            .WithSummary("Read a key with its policies").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{id:int}", UpdateAsync).Accepts<TokenInput>("application/json").WithSummary("Update a key; quota_policy/quota_policies replace its policies")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:int}", DeleteAsync).WithSummary("Delete a key, its policies and open reservations")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:int}/quota_policy/reset", ResetAsync).WithSummary("Clear the current window's usage and restore a paused key")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, QuotaRuntime runtime)
    {
        JsonBody.Outcome<TokenInput> body = await JsonBody.ReadAsync<TokenInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        TokenInput input = body.Value!;
        if (input.UserId is not { } userId)
        {
            return Problem.Invalid("user_id", "is required");
        }

        (TokenUpdate? fields, string? field, string? error) = ParseFields(input, runtime.NowMs);
        if (fields is null)
        {
            return Problem.Invalid(field!, error!);
        }

        var spec = new TokenSpec
        {
            UserId = userId,
            RemainQuotaUnits = fields.RemainQuotaUnits ?? 0,
            UnlimitedQuota = fields.UnlimitedQuota ?? false,
            ExpiresAtMs = fields.ExpiresAtMs ?? -1,
            Status = fields.Status ?? TokenStatus.Enabled,
            Policies = fields.Policies ?? [],
        };
        SaveOutcome created = runtime.Engine.CreateToken(spec, runtime.NowMs);
        if (!created.IsOk)
        {
            return SaveError(created);
        }

        string key = ApiKeys.NewKey();
        var label = new TokenDocument
        {
            Id = created.Id,
            UserId = userId,
            Name = input.Name ?? "",
            KeyHash = ApiKeys.Hash(key),
            KeyPreview = ApiKeys.Preview(key),
            CreatedMs = runtime.NowMs,
            ConfigJson = JsonSerializer.Serialize(spec.Policies),
        };
        runtime.Store.UpsertToken(label);
        runtime.IndexKey(label.KeyHash, created.Id);
        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Results.Created($"/api/tokens/{created.Id}", TokenJson.ToJson(runtime.Engine.ReadToken(created.Id, runtime.NowMs)!, label, key));
    }

    private static async Task<IResult> UpdateAsync(int id, HttpRequest request, QuotaRuntime runtime)
    {
        TokenDocument? label = runtime.Store.FindToken(id);
        if (label is null)
        {
            return Problem.NotFound($"token {id}");
        }

        JsonBody.Outcome<TokenInput> body = await JsonBody.ReadAsync<TokenInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        (TokenUpdate? update, string? field, string? error) = ParseFields(body.Value!, runtime.NowMs);
        if (update is null)
        {
            return Problem.Invalid(field!, error!);
        }

        SaveOutcome saved = runtime.Engine.UpdateToken(id, update, runtime.NowMs);
        if (!saved.IsOk)
        {
            return SaveError(saved);
        }

        label.Name = body.Value!.Name ?? label.Name;
        if (update.Policies is { } policies)
        {
            label.ConfigJson = JsonSerializer.Serialize(policies);
        }

        runtime.Store.UpsertToken(label);
        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Results.Ok(Read(runtime, id));
    }

    private static async Task<IResult> DeleteAsync(int id, QuotaRuntime runtime, HttpContext context)
    {
        TokenDocument? label = runtime.Store.FindToken(id);
        if (label is null)
        {
            return Problem.NotFound($"token {id}");
        }

        switch (runtime.Engine.DeleteToken(id, runtime.NowMs))
        {
            case SpecError.TokenNotFound:
                return Problem.NotFound($"token {id}");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        runtime.UnindexKey(label.KeyHash);
        runtime.Store.DeleteToken(id);
        await runtime.AcknowledgeAsync(context.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> ResetAsync(int id, int? policy_id, QuotaRuntime runtime, HttpContext context)
    {
        int index = -1;
        if (policy_id is { } policyId)
        {
            if (PolicyJson.IndexOf(id, policyId) is not { } position)
            {
                return Problem.Invalid("policy_id", $"is not a policy of token {id}");
            }

            index = position;
        }

        switch (runtime.Engine.ResetPolicies(id, index, runtime.NowMs))
        {
            case SpecError.TokenNotFound:
                return Problem.NotFound($"token {id}");
            case SpecError.PolicyNotFound:
                return Problem.NotFound($"token {id} has no enabled quota policy{(index >= 0 ? " at that id" : "")}");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return Results.Ok(Read(runtime, id));
    }

    private static IResult List(int? user_id, string? status, int? p, int? size, QuotaRuntime runtime)
    {
        int page = Math.Max(1, p ?? 1), pageSize = Math.Clamp(size ?? 20, 1, 100);
        long now = runtime.NowMs;
        var matching = runtime.Store.AllTokens()
            .Where(label => user_id is null || label.UserId == user_id)
            .Select(label => (label, view: runtime.Engine.ReadToken(label.Id, now)))
            .Where(t => t.view is not null && (status is null || TokenJson.DisplayStatus(t.view) == status))
            .OrderBy(t => t.label.Id)
            .ToList();
        object[] items = matching.Skip((page - 1) * pageSize).Take(pageSize).Select(t => TokenJson.ToJson(t.view!, t.label)).ToArray();
        return Results.Ok(new { items, total = matching.Count });
    }

    private static object? Read(QuotaRuntime runtime, int id) =>
        runtime.Store.FindToken(id) is { } label && runtime.Engine.ReadToken(id, runtime.NowMs) is { } view ? TokenJson.ToJson(view, label) : null;

    /// <summary>The fields of a create or update body, validated; null fields are "not sent".</summary>
    private static (TokenUpdate? Update, string? Field, string? Error) ParseFields(TokenInput input, long nowMs)
    {
        if (input.Status is { } status && status is not (1 or 2))
        {
            return (null, "status", "must be 1 (enabled) or 2 (disabled)");
        }

        if (input.RemainQuota is < 0 or > EngineLimits.BalanceMaxUnits)
        {
            return (null, "remain_quota", "must not be negative");
        }

        if (input.ExpiredTime is { } expires && expires != -1 && expires <= 0)
        {
            return (null, "expired_time", "must be -1 (never) or a Unix time in seconds");
        }

        if (input.QuotaPolicy is not null && input.QuotaPolicies is not null)
        {
            return (null, "quota_policies", "send either quota_policy or quota_policies, not both");
        }

        PolicyInput[]? inputs = input.QuotaPolicies ?? (input.QuotaPolicy is { } one ? [one] : null);
        if (inputs is { Length: > EngineLimits.PoliciesPerKeyMax })
        {
            return (null, "quota_policies", $"at most {EngineLimits.PoliciesPerKeyMax} policies");
        }

        QuotaPolicySpec[]? specs = null;
        if (inputs is not null)
        {
            specs = new QuotaPolicySpec[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                string prefix = input.QuotaPolicies is null ? "quota_policy." : $"quota_policies[{i}].";
                (QuotaPolicySpec? spec, string? field, string? error) = PolicyJson.Parse(inputs[i] ?? new PolicyInput(), prefix, nowMs);
                if (spec is null)
                {
                    return (null, field, error);
                }

                specs[i] = spec;
            }
        }

        return (new TokenUpdate
        {
            Status = (TokenStatus?)input.Status,
            RemainQuotaUnits = input.RemainQuota,
            UnlimitedQuota = input.UnlimitedQuota,
            ExpiresAtMs = input.ExpiredTime is { } seconds ? (seconds == -1 ? -1 : seconds * 1000) : null,
            Policies = specs,
        }, null, null);
    }

    private static IResult SaveError(SaveOutcome outcome) => outcome.Error switch
    {
        SpecError.UserNotFound => Problem.Invalid("user_id", "no such user"),
        SpecError.TokenNotFound => Problem.NotFound($"token {outcome.Id}"),
        SpecError.TooManyKeys => Problem.Unavailable("the key table is full (Quota:KeysMax)"),
        SpecError.TooManyPolicies => Problem.Invalid("quota_policies", "too many policies"),
        SpecError.LogFull => Problem.Unavailable("the delta log cannot take the change right now; retry"),
        SpecError.PolicyRestartedTooOften => Problem.Conflict(
            $"quota_policies[{outcome.PolicyIndex}]", "was restarted too often while requests are in flight; retry when they finish"),
        _ => Problem.Invalid(outcome.PolicyIndex >= 0 ? $"quota_policies[{outcome.PolicyIndex}]" : "body", outcome.Error.ToString()),
    };
}
