using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

public sealed class UserInput
{
    public string? Name { get; set; }
    public long? Quota { get; set; }
    public long? Delta { get; set; }
}

/// <summary>/api/users: create, read, top up or debit a wallet.</summary>
public static class UserEndpoints
{
    public static RouteGroupBuilder MapUsers(this RouteGroupBuilder group)
    {
        group.MapPost("/", CreateAsync).Accepts<UserInput>("application/json").WithSummary("Create a user with a wallet")
            .Produces<UserResponse>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/{id:int}", (int id, QuotaRuntime runtime) => Read(runtime, id) is { } user ? Results.Ok(user) : Problem.NotFound($"user {id}"))
            .WithSummary("Read a user's wallet").Produces<UserResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:int}/quota", CreditAsync).Accepts<UserInput>("application/json").WithSummary("Top up (delta > 0) or debit a wallet")
            .Produces<UserResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, QuotaRuntime runtime)
    {
        JsonBody.Outcome<UserInput> body = await JsonBody.ReadAsync<UserInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        if (LabelNames.Problem(body.Value!.Name) is { } badName)
        {
            return Problem.Invalid("name", badName);
        }

        if (body.Value.Quota is not { } quota || quota < 0)
        {
            return Problem.Invalid("quota", "is required and must not be negative");
        }

        SaveOutcome created = Create(runtime, body.Value.Name ?? "", quota);
        if (!created.IsOk)
        {
            return created.Error switch
            {
                SpecError.TooManyUsers => Problem.Unavailable("the user table is full (Quota:UsersMax)"),
                SpecError.LogFull => Problem.Unavailable("the delta log cannot take the change right now; retry"),
                _ => Problem.Invalid("quota", "is out of range"),
            };
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Results.Created($"/api/users/{created.Id}", Read(runtime, created.Id));
    }

    /// <summary>Creates a user's wallet in the engine, then its label (the console uses it too).</summary>
    public static SaveOutcome Create(QuotaRuntime runtime, string name, long quotaUnits)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        LabelNames.Require(name);
        if (runtime.Cluster is { } cluster)
        {
            return Cluster.ClusterAdmin.CreateUser(cluster, runtime, name, quotaUnits);
        }

        SaveOutcome created = runtime.Engine.CreateUser(quotaUnits);
        if (created.IsOk)
        {
            runtime.Store.UpsertUser(new UserDocument { Id = created.Id, Name = name, CreatedMs = runtime.NowMs });
            runtime.RebaseWalletAlerts(created.Id);
        }

        return created;
    }

    private static async Task<IResult> CreditAsync(int id, HttpRequest request, QuotaRuntime runtime)
    {
        JsonBody.Outcome<UserInput> body = await JsonBody.ReadAsync<UserInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        if (body.Value!.Delta is not { } delta)
        {
            return Problem.Invalid("delta", "is required");
        }

        switch (Credit(runtime, id, delta))
        {
            case SpecError.UserNotFound:
                return Problem.NotFound($"user {id}");
            case SpecError.UserQuotaInvalid:
                return Problem.Invalid("delta", "would take the balance below zero (or below what in-flight requests hold)");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Results.Ok(Read(runtime, id));
    }

    /// <summary>Tops up or debits a wallet (in the store, in cluster mode), then rebases its alerts (the console uses it too).</summary>
    public static SpecError Credit(QuotaRuntime runtime, int id, long delta)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        SpecError credited = runtime.Cluster is { } cluster
            ? Cluster.ClusterAdmin.CreditUser(cluster, runtime, id, delta)
            : runtime.Engine.CreditUser(id, delta);
        if (credited == SpecError.None)
        {
            runtime.RebaseWalletAlerts(id);
        }

        return credited;
    }

    private static UserResponse? Read(QuotaRuntime runtime, int id)
    {
        if (runtime.ReadUser(id) is not { } user)
        {
            return null;
        }

        UserDocument? label = runtime.Store.FindUser(id);
        return new UserResponse(id, label?.Name ?? "", user.QuotaUnits, user.UsedQuotaUnits, user.ReservedQuotaUnits, (label?.CreatedMs ?? 0) / 1000);
    }
}
