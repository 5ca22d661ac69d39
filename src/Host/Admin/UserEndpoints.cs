using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Errors;
using Quota.Host.Relay;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

public sealed class UserInput
{
    public string? Name { get; set; }
    public long? Quota { get; set; }
    public long? Delta { get; set; }
    /// <summary>The user's price group: <c>default</c> or one of <c>Pricing:Groups</c> (its multiplier scales every charge).</summary>
    public string? Group { get; set; }
}

/// <summary>/api/users: create, read, rename or regroup a user, top up or debit a wallet.</summary>
public static class UserEndpoints
{
    public static RouteGroupBuilder MapUsers(this RouteGroupBuilder group)
    {
        group.MapPost("/", CreateAsync).Accepts<UserInput>("application/json").WithSummary("Create a user with a wallet")
            .Produces<UserResponse>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/{id:int}", (int id, QuotaRuntime runtime) => Read(runtime, id) is { } user ? Results.Ok(user) : Problem.NotFound($"user {id}"))
            .WithSummary("Read a user's wallet").Produces<UserResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{id:int}", UpdateAsync).Accepts<UserInput>("application/json").WithSummary("Rename a user or change its price group")
            .Produces<UserResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:int}/quota", CreditAsync).Accepts<UserInput>("application/json").WithSummary("Top up (delta > 0) or debit a wallet")
            .Produces<UserResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, QuotaRuntime runtime, Pricing pricing)
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

        if (GroupProblem(pricing, body.Value.Group) is { } badGroup)
        {
            return Problem.Invalid("group", badGroup);
        }

        SaveOutcome created = Create(runtime, body.Value.Name ?? "", quota, body.Value.Group);
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

    /// <summary>
    /// Why <paramref name="group"/> cannot be a user's price group, or null when it can: absent, <c>default</c> or a group
    /// of <c>Pricing:Groups</c> (the console checks its form with it too).
    /// </summary>
    public static string? GroupProblem(Pricing pricing, string? group)
    {
        ArgumentNullException.ThrowIfNull(pricing);
        return group is null || pricing.IsGroup(group) ? null
            : $"is not a price group: use {Pricing.DefaultGroup}{string.Concat(pricing.Groups.Where(g => g != Pricing.DefaultGroup).Order(StringComparer.Ordinal).Select(g => ", " + g))} (Pricing:Groups)";
    }

    /// <summary>Creates a user's wallet in the engine, then its label (the console uses it too); <paramref name="group"/> is checked by <see cref="GroupProblem"/>.</summary>
    public static SaveOutcome Create(QuotaRuntime runtime, string name, long quotaUnits, string? group = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        LabelNames.Require(name);
        group = StoredGroup(group);
        if (runtime.Cluster is { } cluster)
        {
            return Cluster.ClusterAdmin.CreateUser(cluster, runtime, name, quotaUnits, group);
        }

        SaveOutcome created = runtime.Engine.CreateUser(quotaUnits);
        if (created.IsOk)
        {
            runtime.SaveUser(new UserDocument { Id = created.Id, Name = name, CreatedMs = runtime.NowMs, Group = group });
            runtime.RebaseWalletAlerts(created.Id);
        }

        return created;
    }

    private static async Task<IResult> UpdateAsync(int id, HttpRequest request, QuotaRuntime runtime, Pricing pricing)
    {
        JsonBody.Outcome<UserInput> body = await JsonBody.ReadAsync<UserInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        if (body.Value!.Quota is not null || body.Value.Delta is not null)
        {
            return Problem.Invalid(body.Value.Quota is not null ? "quota" : "delta", $"is changed by POST /api/users/{id}/quota, not here");
        }

        if (body.Value.Name is not null && LabelNames.Problem(body.Value.Name) is { } badName)
        {
            return Problem.Invalid("name", badName);
        }

        if (GroupProblem(pricing, body.Value.Group) is { } badGroup)
        {
            return Problem.Invalid("group", badGroup);
        }

        if (!Update(runtime, id, body.Value.Name, body.Value.Group))
        {
            return Problem.NotFound($"user {id}");
        }

        return Results.Ok(Read(runtime, id));
    }

    /// <summary>
    /// Renames a user or moves it to another price group (null: unchanged); false when there is no such user. The next
    /// request of its keys is priced in the new group (the console uses it too).
    /// </summary>
    public static bool Update(QuotaRuntime runtime, int id, string? name, string? group)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (runtime.ReadUser(id) is null || runtime.Store.FindUser(id) is not { } label)
        {
            return false;
        }

        if (name is not null)
        {
            LabelNames.Require(name);
            label.Name = name;
        }

        label.Group = group is null ? label.Group : StoredGroup(group);
        if (runtime.Cluster is { } cluster)
        {
            Cluster.ClusterAdmin.UpdateUser(cluster, label);
        }
        else
        {
            runtime.SaveUser(label);
        }

        return true;
    }

    /// <summary>The default group is stored as none, so that a user in it follows the default group's configuration.</summary>
    private static string? StoredGroup(string? group) => group == Pricing.DefaultGroup ? null : group;

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
        return new UserResponse(id, label?.Name ?? "", label?.Group ?? Pricing.DefaultGroup, user.QuotaUnits, user.UsedQuotaUnits, user.ReservedQuotaUnits, (label?.CreatedMs ?? 0) / 1000);
    }
}
