using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Application;
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
        group.MapGet("/{id:int}", (int id, UserService users, HttpResponse response) => Read(users, id, response) is { } user ? Results.Ok(user) : Problem.NotFound($"user {id}"))
            .WithSummary("Read a user's wallet (its version in ETag)").Produces<UserResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{id:int}", UpdateAsync).Accepts<UserInput>("application/json")
            .WithSummary("Rename a user or change its price group; If-Match: its ETag, or 409 version_conflict")
            .Produces<UserResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/{id:int}/quota", CreditAsync).Accepts<UserInput>("application/json").WithSummary("Top up (delta > 0) or debit a wallet")
            .Produces<UserResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, QuotaRuntime runtime, UserService users)
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

        if (users.GroupProblem(body.Value.Group) is { } badGroup)
        {
            return Problem.Invalid("group", badGroup);
        }

        SaveOutcome created = users.Create(body.Value.Name ?? "", quota, body.Value.Group);
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
        return Results.Created($"/api/users/{created.Id}", Read(users, created.Id, request.HttpContext.Response));
    }

    private static async Task<IResult> UpdateAsync(int id, HttpRequest request, UserService users)
    {
        (string? ifVersion, IResult? badHeader) = Versions.IfMatch(request);
        if (badHeader is not null)
        {
            return badHeader;
        }

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

        if (users.GroupProblem(body.Value.Group) is { } badGroup)
        {
            return Problem.Invalid("group", badGroup);
        }

        WriteOutcome saved = users.Update(id, body.Value.Name, body.Value.Group, ifVersion);
        if (saved.Conflict)
        {
            return Versions.Conflict($"user {id}", users.Find(id)?.Version);
        }

        return saved.Saved.IsOk && Read(users, id, request.HttpContext.Response) is { } user ? Results.Ok(user) : Problem.NotFound($"user {id}");
    }

    private static async Task<IResult> CreditAsync(int id, HttpRequest request, QuotaRuntime runtime, UserService users)
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

        switch (users.Credit(id, delta))
        {
            case SpecError.UserNotFound:
                return Problem.NotFound($"user {id}");
            case SpecError.UserQuotaInvalid:
                return Problem.Invalid("delta", "would take the balance below zero (or below what in-flight requests hold)");
            case SpecError.LogFull:
                return Problem.Unavailable("the delta log cannot take the change right now; retry");
        }

        await runtime.AcknowledgeAsync(request.HttpContext.RequestAborted);
        return Read(users, id, request.HttpContext.Response) is { } user ? Results.Ok(user) : Problem.NotFound($"user {id}");
    }

    /// <summary>The user as the API answers it, its version in the ETag header; null when there is no such user.</summary>
    private static UserResponse? Read(UserService users, int id, HttpResponse response)
    {
        if (users.Find(id) is not { } user)
        {
            return null;
        }

        Versions.Tag(response, user.Version);
        return new UserResponse(id, user.Name, user.Group, user.Wallet.QuotaUnits, user.Wallet.UsedQuotaUnits, user.Wallet.ReservedQuotaUnits,
            (user.Label?.CreatedMs ?? 0) / 1000);
    }
}
