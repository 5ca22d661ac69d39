using Quota.Engine.Persistence;
using Quota.Host.Errors;
using Quota.Host.Quota;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

public sealed class GatewayKeyInput
{
    public string? Name { get; set; }
}

/// <summary>A gateway key as listed; <c>key</c> is set only in the answer that created it.</summary>
public sealed record GatewayKeyResponse(int Id, string Name, string? Key, string KeyPreview, long CreatedTime);

public sealed record GatewayKeyPage(IReadOnlyList<GatewayKeyResponse> Items, int Total);

/// <summary>/api/gateway_keys (admin key only): the credentials gateways use on /api/quota/* (<see cref="GatewayKeys"/>).</summary>
public static class GatewayKeyEndpoints
{
    public static RouteGroupBuilder MapGatewayKeys(this RouteGroupBuilder group)
    {
        group.MapPost("/", CreateAsync).Accepts<GatewayKeyInput>("application/json")
            .WithSummary("Create a gateway key, good for /api/quota/* only (the key is returned only here)")
            .Produces<GatewayKeyResponse>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/", (GatewayKeys keys) =>
            {
                GatewayKeyResponse[] items = keys.All().Select(k => ToJson(k, key: null)).ToArray();
                return TypedResults.Ok(new GatewayKeyPage(items, items.Length));
            })
            .WithSummary("List gateway keys (never their secrets)");
        group.MapDelete("/{id:int}", (int id, GatewayKeys keys) => keys.Delete(id) ? Results.NoContent() : Problem.NotFound($"gateway key {id}"))
            .WithSummary("Delete a gateway key: it stops working at once")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, GatewayKeys keys)
    {
        JsonBody.Outcome<GatewayKeyInput> body = await JsonBody.ReadAsync<GatewayKeyInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        string? name = body.Value!.Name;
        if (string.IsNullOrWhiteSpace(name))
        {
            return Problem.Invalid("name", "is required: what the gateway is, e.g. \"edge-eu\"");
        }

        if (LabelNames.Problem(name) is { } problem)
        {
            return Problem.Invalid("name", problem);
        }

        (GatewayKeyDocument label, string key) = keys.Create(name);
        return Results.Created($"/api/gateway_keys/{label.Id}", ToJson(label, key));
    }

    private static GatewayKeyResponse ToJson(GatewayKeyDocument label, string? key) =>
        new(label.Id, label.Name, key, label.KeyPreview, label.CreatedMs / 1000);
}
