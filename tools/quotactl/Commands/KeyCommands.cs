using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Ctl.Cli;

namespace Quota.Ctl.Commands;

/// <summary><c>quotactl keys …</c>: API keys. The full key is printed once, by <c>create</c>; the API never returns it again.</summary>
internal static class KeyCommands
{
    public static Command Build(CommandRunner runner)
    {
        var keys = new Command("keys", "API keys (tokens)");
        keys.Add(Create(runner));
        keys.Add(KeyListCommand.Build(runner));
        keys.Add(Show(runner));
        keys.Add(Update(runner));
        keys.Add(SetStatus(runner, "enable", 1, "Enable a key (a key a policy paused stays paused until its window resets)"));
        keys.Add(SetStatus(runner, "disable", 2, "Disable a key"));
        keys.Add(Delete(runner));
        return keys;
    }

    private static Command Create(CommandRunner runner)
    {
        var user = new Option<int>("--user") { Description = "Owner's user id", Required = true };
        var fields = new KeyFieldOptions();
        var policy = new PolicyOptions("--policy-quota");
        var create = new Command("create", "Create a key (prints the full key once)") { user };
        fields.AddTo(create);
        policy.AddTo(create);
        runner.Handle(create, async (parse, context) =>
        {
            JsonObject body = fields.Build(parse);
            body["user_id"] = parse.GetValue(user);
            if (policy.Build(parse) is { } one)
            {
                body["quota_policy"] = one;
            }

            JsonElement token = await context.Api.PostAsync("api/tokens", body, context.CancellationToken).ConfigureAwait(false);
            if (context.Terminal.Json)
            {
                context.Terminal.WriteJson(token);
                return ExitCodes.Ok;
            }

            context.Terminal.Line($"Key {Format.Number(token, "id")} created. The key is shown only this once; store it now:");
            context.Terminal.Line(Format.Text(token, "key"));
            KeyTables.Print(context.Terminal, token);
            return ExitCodes.Ok;
        });
        return create;
    }

    private static Command Show(CommandRunner runner)
    {
        var id = new Argument<int>("id") { Description = "Key id" };
        var show = new Command("show", "Show a key with its policies") { id };
        runner.Handle(show, async (parse, context) =>
        {
            Print(context, await context.Api.GetAsync($"api/tokens/{parse.GetValue(id)}", context.CancellationToken).ConfigureAwait(false));
            return ExitCodes.Ok;
        });
        return show;
    }

    private static Command Update(CommandRunner runner)
    {
        var id = new Argument<int>("id") { Description = "Key id" };
        var fields = new KeyFieldOptions();
        var update = new Command("update", "Change a key's name, budget or expiry (policies: 'quotactl policies set')") { id };
        fields.AddTo(update);
        runner.Handle(update, async (parse, context) =>
        {
            JsonObject body = fields.Build(parse);
            if (body.Count == 0)
            {
                throw new UsageException("nothing to update: give --name, --remain-quota, --unlimited or --expires");
            }

            Print(context, await context.Api.PutAsync($"api/tokens/{parse.GetValue(id)}", body, context.CancellationToken).ConfigureAwait(false));
            return ExitCodes.Ok;
        });
        return update;
    }

    private static Command SetStatus(CommandRunner runner, string name, int status, string description)
    {
        var id = new Argument<int>("id") { Description = "Key id" };
        var command = new Command(name, description) { id };
        runner.Handle(command, async (parse, context) =>
        {
            var body = new JsonObject { ["status"] = status };
            Print(context, await context.Api.PutAsync($"api/tokens/{parse.GetValue(id)}", body, context.CancellationToken).ConfigureAwait(false));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Delete(CommandRunner runner)
    {
        var id = new Argument<int>("id") { Description = "Key id" };
        var delete = new Command("delete", "Delete a key and its policies (its open reservations are refunded)") { id };
        runner.Handle(delete, async (parse, context) =>
        {
            int key = parse.GetValue(id);
            await context.Api.DeleteAsync($"api/tokens/{key}", context.CancellationToken).ConfigureAwait(false);
            if (context.Terminal.Json)
            {
                // The API answers 204 without a body; scripts still get one JSON document per command.
                context.Terminal.WriteJson(JsonSerializer.SerializeToElement(new { id = key, deleted = true }));
            }
            else
            {
                context.Terminal.Line($"Key {key} deleted.");
            }

            return ExitCodes.Ok;
        });
        return delete;
    }

    private static void Print(CommandContext context, JsonElement token)
    {
        if (context.Terminal.Json)
        {
            context.Terminal.WriteJson(token);
        }
        else
        {
            KeyTables.Print(context.Terminal, token);
        }
    }
}
