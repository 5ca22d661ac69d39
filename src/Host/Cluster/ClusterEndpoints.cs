using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>The reseed's body: the nodes the rebuild waits for (default: the members this node last saw live).</summary>
public sealed class ReseedInput
{
    public string[]? Nodes { get; set; }
}

/// <summary>A node's view of the store: whether it admits, the epochs, and what a rebuild under way waits for.</summary>
public sealed record ClusterStatus(string NodeId, string State, string Epoch, string StoreEpoch, string RebuildingFrom, string[] WaitingFor, IReadOnlyList<string> Members);

/// <summary>
/// /api/cluster (cluster mode only): a node's view of the store, and the reseed that rebuilds a store that lost its data
/// from the nodes' own durable state (docs/cluster.md "Store data loss"; <c>quotactl cluster status|reseed</c>).
/// </summary>
public static partial class ClusterEndpoints
{
    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial System.Text.RegularExpressions.Regex NodeIdPattern();

    public static RouteGroupBuilder MapCluster(this RouteGroupBuilder group)
    {
        group.MapGet("/", StatusAsync).WithSummary("This node's view of the cluster store").Produces<ClusterStatus>();
        group.MapPost("/reseed", ReseedAsync).Accepts<ReseedInput>("application/json")
            .WithSummary("Rebuild a store that lost its data from the nodes' durable state")
            .Produces<ClusterStatus>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict);
        return group;
    }

    private static async Task<IResult> StatusAsync(QuotaRuntime runtime) =>
        runtime.Cluster is { } node ? Results.Ok(await ReadStatusAsync(node)) : Problem.Unavailable("the cluster node is starting");

    private static async Task<IResult> ReseedAsync(HttpRequest request, QuotaRuntime runtime)
    {
        if (runtime.Cluster is not { } node)
        {
            return Problem.Unavailable("the cluster node is starting");
        }

        string[]? nodes = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            JsonBody.Outcome<ReseedInput> body = await JsonBody.ReadAsync<ReseedInput>(request);
            if (!body.IsOk)
            {
                return Problem.BadBody(body);
            }

            nodes = body.Value!.Nodes;
            if (nodes is not null && (nodes.Length == 0 || nodes.Any(n => n is null || !NodeIdPattern().IsMatch(n))))
            {
                return Problem.Invalid("nodes", "must list at least one node id, each 1 … 64 letters, digits, '.', '_' or '-' (as Cluster:NodeId)");
            }
        }

        if (nodes is null)
        {
            if (node.LiveMembers.Count == 0)
            {
                return Problem.Invalid("nodes", "is required: this node has not seen the cluster's members since it started; name every node that must contribute");
            }

            nodes = [.. node.LiveMembers];
        }

        (bool started, string reason) = await node.ReseedAsync([.. nodes.Append(node.Store.NodeId).Distinct(StringComparer.Ordinal)]);
        return started
            ? Results.Json(await ReadStatusAsync(node), statusCode: StatusCodes.Status202Accepted)
            : Problem.Conflict("store", reason);
    }

    private static async Task<ClusterStatus> ReadStatusAsync(ClusterNode node)
    {
        RebuildStatus store = await node.Store.RebuildStatusAsync();
        return new ClusterStatus(node.Store.NodeId, node.State.ToString().ToLowerInvariant(), node.Store.Epoch, store.StoreEpoch, store.RebuildingFrom,
            store.WaitingFor, node.LiveMembers);
    }
}
