using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Ctl.Cli;

namespace Quota.Ctl.Commands;

/// <summary>
/// <c>quotactl policies show|set|reset</c>. The API saves a key's policies as a whole list matched by position
/// (the i-th sent replaces the i-th stored one and keeps its usage), so <c>set</c> reads the list, replaces or
/// appends the one at <c>--index</c> and sends the list back: the other policies and their usage stay as they are.
/// </summary>
internal static class PolicyCommands
{
    private const int PoliciesMax = 4;

    /// <summary>The input fields of a policy: what is copied back when another policy of the key is set.</summary>
    private static readonly string[] InputFields =
        ["enabled", "period_mode", "quota", "anchor_time", "time_zone", "exhausted_action", "boundary_mode", "auto_resume", "metric", "models"];

    public static Command Build(CommandRunner runner)
    {
        var policies = new Command("policies", "A key's periodic quota policies");
        policies.Add(Show(runner));
        policies.Add(Set(runner));
        policies.Add(Reset(runner));
        return policies;
    }

    private static Command Show(CommandRunner runner)
    {
        var id = new Argument<int>("key-id") { Description = "Key id" };
        var show = new Command("show", "Show a key's policies and their current windows") { id };
        runner.Handle(show, async (parse, context) =>
        {
            JsonElement token = await context.Api.GetAsync($"api/tokens/{parse.GetValue(id)}", context.CancellationToken).ConfigureAwait(false);
            Print(context, token);
            return ExitCodes.Ok;
        });
        return show;
    }

    private static Command Set(CommandRunner runner)
    {
        var id = new Argument<int>("key-id") { Description = "Key id" };
        var index = new Option<int>("--index") { Description = "Position of the policy (0…3); one past the last appends", DefaultValueFactory = _ => 0 };
        var disabled = new Option<bool>("--disabled") { Description = "Switch this policy off in place (its counters are zeroed)" };
        var options = new PolicyOptions("--quota");
        var set = new Command("set", "Create or replace one policy of a key") { id, index, disabled };
        options.AddTo(set);
        runner.Handle(set, async (parse, context) =>
        {
            JsonObject policy = options.Build(parse) ?? throw new UsageException("--period is required");
            if (parse.GetValue(disabled))
            {
                policy["enabled"] = false;
            }

            int key = parse.GetValue(id);
            JsonElement token = await context.Api.GetAsync($"api/tokens/{key}", context.CancellationToken).ConfigureAwait(false);
            JsonArray list = CurrentInputs(token);
            int position = parse.GetValue(index);
            if (position < 0 || position > list.Count || position >= PoliciesMax)
            {
                throw new UsageException($"--index must be 0…{Math.Min(list.Count, PoliciesMax - 1)} (key {key} has {list.Count} policies)");
            }

            if (position == list.Count)
            {
                list.Add(policy);
            }
            else
            {
                list[position] = policy;
            }

            var body = new JsonObject { ["quota_policies"] = list };
            Print(context, await context.Api.PutAsync($"api/tokens/{key}", body, context.CancellationToken).ConfigureAwait(false));
            return ExitCodes.Ok;
        });
        return set;
    }

    private static Command Reset(CommandRunner runner)
    {
        var id = new Argument<int>("key-id") { Description = "Key id" };
        var policyId = new Option<int?>("--policy-id") { Description = "Only this policy (its id from 'policies show'); default all" };
        var reset = new Command("reset", "Clear the current window's usage and restore a key a policy paused") { id, policyId };
        runner.Handle(reset, async (parse, context) =>
        {
            string query = parse.GetValue(policyId) is { } p ? $"?policy_id={p}" : "";
            JsonElement token = await context.Api.PostAsync($"api/tokens/{parse.GetValue(id)}/quota_policy/reset{query}", null, context.CancellationToken)
                .ConfigureAwait(false);
            Print(context, token);
            return ExitCodes.Ok;
        });
        return reset;
    }

    private static JsonArray CurrentInputs(JsonElement token)
    {
        var list = new JsonArray();
        foreach (JsonElement stored in Format.Items(token, "quota_policies"))
        {
            var input = new JsonObject();
            foreach (string field in InputFields)
            {
                if (stored.TryGetProperty(field, out JsonElement value))
                {
                    input[field] = JsonNode.Parse(value.GetRawText());
                }
            }

            if (Format.Text(stored, "period_mode") == "custom")
            {
                input["custom_minutes"] = Format.Number(stored, "custom_minutes");
            }

            list.Add(input);
        }

        return list;
    }

    private static void Print(CommandContext context, JsonElement token)
    {
        if (context.Terminal.Json)
        {
            context.Terminal.WriteJson(token);
            return;
        }

        context.Terminal.Line($"Key {Format.Number(token, "id")} ({Format.Text(token, "display_status")}):");
        context.Terminal.Write(KeyTables.Policies(token));
    }
}
