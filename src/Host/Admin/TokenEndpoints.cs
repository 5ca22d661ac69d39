using System.Text.Json;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Application;
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
        group.MapGet("/{id:int}", (int id, KeyService keys, HttpResponse response) => Answer(keys, id, response) ?? Problem.NotFound($"token {id}"))
            .WithSummary("Read a key with its policies (its version in ETag)").Produces<TokenResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{id:int}", UpdateAsync).Accepts<TokenInput>("application/json").WithSummary("Update a key; quota_policy/quota_policies replace its policies; If-Match: its ETag, or 409 version_conflict")
            .Produces<TokenResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapDelete("/{id:int}", DeleteAsync).WithSummary("Delete a key, its policies and open reservations")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:int}/quota_policy/reset", ResetAsync).WithSummary("Clear the current window's usage and restore a paused key")
            .Produces<TokenResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPolicySimulation();
        return group;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, QuotaRuntime runtime, KeyService keys)
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
        (SaveOutcome created, _, string? key) = keys.Create(spec, input.Name ?? "");
        if (!created.IsOk)
        {
            return SaveError(created, policyPrefix);
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        KeyRecord record = keys.Find(created.Id)!;
        Versions.Tag(request.HttpContext.Response, record.Version);
        return Results.Created($"/api/tokens/{created.Id}", TokenJson.ToJson(record.View, record.Label, key));
    }

    private static async Task<IResult> UpdateAsync(int id, HttpRequest request, QuotaRuntime runtime, KeyService keys)
    {
        if (runtime.Store.FindToken(id) is null)
        {
            return Problem.NotFound($"token {id}");
        }

        (string? ifVersion, IResult? badHeader) = Versions.IfMatch(request);
        if (badHeader is not null)
        {
            return badHeader;
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

        WriteOutcome saved = keys.Update(id, update, body.Value!.Name, ifVersion);
        if (saved.Conflict)
        {
            return Versions.Conflict($"token {id}", keys.Find(id)?.Version);
        }

        if (!saved.Saved.IsOk)
        {
            return SaveError(saved.Saved, PolicyPrefix(body.Value!));
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Answer(keys, id, request.HttpContext.Response) ?? Problem.NotFound($"token {id}");
    }

    private static async Task<IResult> DeleteAsync(int id, QuotaRuntime runtime, KeyService keys, HttpContext context)
    {
        switch (keys.Delete(id))
        {
            case SpecError.TokenNotFound:
                return Problem.NotFound($"token {id}");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return Results.NoContent();
    }

    private static async Task<IResult> ResetAsync(int id, int? policy_id, QuotaRuntime runtime, KeyService keys, HttpContext context)
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

        switch (keys.Reset(id, index))
        {
            case SpecError.TokenNotFound:
                return Problem.NotFound($"token {id}");
            case SpecError.PolicyNotFound:
                return Problem.NotFound($"token {id} has no enabled quota policy{(index >= 0 ? " at that id" : "")}");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        await runtime.AcknowledgeAsync(context.RequestAborted);
        return Answer(keys, id, context.Response) ?? Problem.NotFound($"token {id}");
    }

    /// <summary>One page from the key index (docs/operations.md "At scale"): only the page's labels and live views are read.</summary>
    private static Microsoft.AspNetCore.Http.HttpResults.Ok<TokenPage> List(int? user_id, string? status, int? p, int? size, KeyService keys)
    {
        int page = Math.Max(1, p ?? 1), pageSize = Math.Clamp(size ?? 20, 1, 100);
        (IReadOnlyList<KeyRecord> rows, int total) = keys.Page(user_id, status, null, (long)(page - 1) * pageSize, pageSize);
        return TypedResults.Ok(new TokenPage([.. rows.Select(r => TokenJson.ToJson(r.View, r.Label))], total));
    }

    /// <summary>The key as the API answers it, its version in the ETag header; null when there is no such key.</summary>
    private static IResult? Answer(KeyService keys, int id, HttpResponse response)
    {
        if (keys.Find(id) is not { } record)
        {
            return null;
        }

        Versions.Tag(response, record.Version);
        return Results.Ok(TokenJson.ToJson(record.View, record.Label));
    }

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
