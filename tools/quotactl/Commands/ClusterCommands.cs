using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Ctl.Cli;

namespace Quota.Ctl.Commands;

/// <summary>
/// <c>quotactl cluster status|reseed</c>: a cluster node's view of its store, and the rebuild of a store that lost its data
/// from the nodes' durable state (the host's docs/cluster.md "Store data loss").
/// </summary>
internal static class ClusterCommands
{
    public static Command Build(CommandRunner runner)
    {
        var cluster = new Command("cluster", "Cluster mode: the store's state and its rebuild");

        var status = new Command("status", "Whether this node admits (serving, lost, rebuilding), the store's epoch, and whom a rebuild waits for");
        runner.Handle(status, async (parse, context) =>
        {
            Print(context, await context.Api.GetAsync("api/cluster", context.CancellationToken).ConfigureAwait(false), null);
            return ExitCodes.Ok;
        });

        var nodes = new Option<string[]>("--node") { Description = "A node the rebuild waits for (repeat; default: the members this node last saw live)", AllowMultipleArgumentsPerToken = true };
        var reseed = new Command("reseed", "Rebuild a store that lost its data from the nodes' kept configuration and usage") { nodes };
        runner.Handle(reseed, async (parse, context) =>
        {
            var body = new JsonObject();
            if (parse.GetValue(nodes) is { Length: > 0 } named)
            {
                body["nodes"] = new JsonArray([.. named.Select(n => (JsonNode)n)]);
            }

            Print(context, await context.Api.PostAsync("api/cluster/reseed", body, context.CancellationToken).ConfigureAwait(false), "Rebuild started");
            return ExitCodes.Ok;
        });

        cluster.Add(status);
        cluster.Add(reseed);
        return cluster;
    }

    private static void Print(CommandContext context, JsonElement state, string? verb)
    {
        if (context.Terminal.Json)
        {
            context.Terminal.WriteJson(state);
            return;
        }

        if (verb is not null)
        {
            context.Terminal.Line($"{verb}.");
        }

        string waiting = string.Join(", ", state.GetProperty("waiting_for").EnumerateArray().Select(n => n.GetString()));
        context.Terminal.Line($"node {Format.Text(state, "node_id")}: {Format.Text(state, "state")} (epoch {Format.Text(state, "epoch")}, store {Format.Text(state, "store_epoch")})");
        if (waiting.Length > 0)
        {
            context.Terminal.Line($"the rebuild waits for: {waiting}");
        }
    }
}
