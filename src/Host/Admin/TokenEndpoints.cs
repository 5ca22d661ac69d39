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
            .Produces<TokenResponse>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        group.MapGet("/", List).WithSummary("List keys, filtered by user and display_status").Produces<TokenPage>();
        group.MapGet("/{id:int}", (int id, QuotaRuntime runtime) => Read(runtime, id) is { } token ? Results.Ok(token) : Problem.NotFound($"token {id}"))
            .WithSummary("Read a key with its policies").Produces<TokenResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{id:int}", UpdateAsync).Accepts<TokenInput>("application/json").WithSummary("Update a key; quota_policy/quota_policies replace its policies")
            .Produces<TokenResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapDelete("/{id:int}", DeleteAsync).WithSummary("Delete a key, its policies and open reservations")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:int}/quota_policy/reset", ResetAsync).WithSummary("Clear the current window's usage and restore a paused key")
            .Produces<TokenResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPolicySimulation();
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

        string policyPrefix = PolicyPrefix(input);

        var spec = new TokenSpec
        {
            UserId = userId,
            RemainQuotaUnits = fields.RemainQuotaUnits ?? 0,
            UnlimitedQuota = fields.UnlimitedQuota ?? false,
            ExpiresAtMs = fields.ExpiresAtMs ?? -1,
            Status = fields.Status ?? TokenStatus.Enabled,
            Policies = fields.Policies ?? [],
        };
        (SaveOutcome created, TokenDocument? label, string? key) = Create(runtime, spec, input.Name ?? "");
        if (!created.IsOk)
        {
            return SaveError(created, policyPrefix);
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Results.Created($"/api/tokens/{created.Id}", TokenJson.ToJson(runtime.ReadToken(created.Id, runtime.NowMs)!, label!, key));
    }

    /// <summary>Creates a key in the engine, then its label (name, key hash, preview) and lookup entry; the full key is returned only here (the console uses it too).</summary>
    internal static (SaveOutcome Outcome, TokenDocument? Label, string? Key) Create(QuotaRuntime runtime, TokenSpec spec, string name)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(spec);
        LabelNames.Require(name);
        if (runtime.Cluster is { } cluster)
        {
            return Cluster.ClusterAdmin.CreateToken(cluster, runtime, spec, name);
        }

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

        SaveOutcome saved = Update(runtime, label, update, body.Value!.Name);
        if (!saved.IsOk)
        {
            return SaveError(saved, PolicyPrefix(body.Value!));
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Results.Ok(Read(runtime, id));
    }

    /// <summary>Updates a key in the engine, then its label (the name); nothing changes on an error (the console uses it too).</summary>
    internal static SaveOutcome Update(QuotaRuntime runtime, TokenDocument label, TokenUpdate update, string? name)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(label);
        ArgumentNullException.ThrowIfNull(update);
        LabelNames.Require(name);
        if (runtime.Cluster is { } cluster)
        {
            return Cluster.ClusterAdmin.UpdateToken(cluster, label.Id, update, name);
        }

        SaveOutcome saved = runtime.Engine.UpdateToken(label.Id, update, runtime.NowMs);
        if (!saved.IsOk)
        {
            return saved;
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

        return saved;
    }

    private static async Task<IResult> DeleteAsync(int id, QuotaRuntime runtime, HttpContext context)
    {
        switch (Delete(runtime, id))
        {
            case SpecError.TokenNotFound:
                return Problem.NotFound($"token {id}");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return Results.NoContent();
    }

    /// <summary>Deletes a key (engine first, then its label and lookup entry); nothing changes on an error (the console uses it too).</summary>
    public static SpecError Delete(QuotaRuntime runtime, int id)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        TokenDocument? label = runtime.Store.FindToken(id);
        if (label is null)
        {
            return SpecError.TokenNotFound;
        }

        if (runtime.Cluster is { } cluster)
        {
            return Cluster.ClusterAdmin.DeleteToken(cluster, id);
        }

        SpecError error = runtime.Engine.DeleteToken(id, runtime.NowMs);
        if (error == SpecError.None)
        {
            runtime.RemoveLabel(label);
        }

        return error;
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

        switch (Reset(runtime, id, index))
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

    /// <summary>Clears one policy's window (or all, <paramref name="index"/> -1): in the store in cluster mode (the console uses it too).</summary>
    public static SpecError Reset(QuotaRuntime runtime, int id, int index)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        SpecError error = runtime.Cluster is { } cluster
            ? Cluster.ClusterAdmin.ResetPolicies(cluster, runtime, id, index)
            : runtime.Engine.ResetPolicies(id, index, runtime.NowMs);
        runtime.Keys.Touch(id); // a reset restores a paused key
        return error;
    }

    /// <summary>One page from the key index (docs/operations.md "At scale"): only the page's labels and live views are read.</summary>
    private static Microsoft.AspNetCore.Http.HttpResults.Ok<TokenPage> List(int? user_id, string? status, int? p, int? size, QuotaRuntime runtime)
    {
        int page = Math.Max(1, p ?? 1), pageSize = Math.Clamp(size ?? 20, 1, 100);
        long skip = (long)(page - 1) * pageSize;
        if (skip > int.MaxValue)
        {
            return TypedResults.Ok(new TokenPage([], runtime.Keys.Page(user_id, status, null, 0, 0).Total));
        }

        (int[] ids, int total) = runtime.Keys.Page(user_id, status, null, (int)skip, pageSize);
        TokenView?[] views = runtime.ReadTokens(ids, runtime.NowMs);
        var items = new List<TokenResponse>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if (runtime.Store.FindToken(ids[i]) is { } label && views[i] is { } view)
            {
                items.Add(TokenJson.ToJson(view, label));
            }
        }

        return TypedResults.Ok(new TokenPage(items, total));
    }

    private static TokenResponse? Read(QuotaRuntime runtime, int id) =>
        runtime.Store.FindToken(id) is { } label && runtime.ReadToken(id, runtime.NowMs) is { } view ? TokenJson.ToJson(view, label) : null;

    /// <summary>
    /// The fields of a create or update body, translated into the engine's <see cref="TokenUpdate"/> (null fields are
    /// "not sent"). Only the shape is checked here; the engine's validation judges the values.
    /// </summary>
    private static (TokenUpdate? Update, string? Field, string? Error) ParseFields(TokenInput input, long nowMs)
    {
        if (LabelNames.Problem(input.Name) is { } badName)
        {
            return (null, "name", badName);
        }

        if (input.QuotaPolicy is not null && input.QuotaPolicies is not null)
        {
            return (null, "quota_policies", "send either quota_policy or quota_policies, not both");
        }

        PolicyInput[]? inputs = input.QuotaPolicies ?? (input.QuotaPolicy is { } one ? [one] : null);
        return (new TokenUpdate
        {
            Status = input.Status is { } status ? (status is >= 0 and <= byte.MaxValue ? (TokenStatus)status : TokenStatus.None) : null,
            RemainQuotaUnits = input.RemainQuota,
            UnlimitedQuota = input.UnlimitedQuota,
            ExpiresAtMs = input.ExpiredTime is { } seconds ? (seconds == -1 ? -1 : PolicyJson.SecondsToMs(seconds)) : null,
            Policies = inputs?.Select(p => PolicyJson.Parse(p ?? new PolicyInput(), nowMs)).ToArray(),
        }, null, null);
    }

    private static string PolicyPrefix(TokenInput input) => input.QuotaPolicies is null ? "quota_policy." : "quota_policies[{0}].";

    /// <summary>A refused save as a problem naming its field (policy fields as <paramref name="policyPrefix"/> + field); the simulation uses it too.</summary>
    internal static IResult SaveError(SaveOutcome outcome, string policyPrefix)
    {
        (int status, string? field, string message) = SpecErrors.Of(outcome.Error);
        if (outcome.PolicyIndex >= 0 && (SpecErrors.IsPolicyField(outcome.Error) || outcome.Error == SpecError.PolicyRestartedTooOften))
        {
            string policy = string.Format(System.Globalization.CultureInfo.InvariantCulture, policyPrefix, outcome.PolicyIndex);
            field = SpecErrors.IsPolicyField(outcome.Error) ? policy + field : policy.TrimEnd('.');
        }

        return status switch
        {
            400 => Problem.Invalid(field ?? "body", message),
            404 => Problem.NotFound(outcome.Error == SpecError.TokenNotFound ? $"token {outcome.Id}" : message),
            409 => Problem.Conflict(field ?? "body", message),
            _ => Problem.Unavailable(message),
        };
    }
}
