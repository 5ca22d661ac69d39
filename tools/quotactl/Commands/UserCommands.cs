using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Ctl.Cli;
using Spectre.Console;

namespace Quota.Ctl.Commands;

/// <summary><c>quotactl users create|show|update|credit</c>: users, their price groups and their wallets.</summary>
internal static class UserCommands
{
    public static Command Build(CommandRunner runner)
    {
        var users = new Command("users", "Users and their wallets");

        var name = new Option<string>("--name") { Description = "Display name" };
        var quota = new Option<long>("--quota") { Description = "Opening wallet balance in quota units (500,000 = 1 USD)", Required = true };
        var group = new Option<string>("--group") { Description = "Price group (Pricing:Groups on the host; default: default)" };
        var create = new Command("create", "Create a user") { name, quota, group };
        runner.Handle(create, async (parse, context) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name) ?? "", ["quota"] = parse.GetValue(quota) };
            if (parse.GetValue(group) is { } createGroup)
            {
                body["group"] = createGroup;
            }

            Print(context, await context.Api.PostAsync("api/users", body, context.CancellationToken).ConfigureAwait(false), "created");
            return ExitCodes.Ok;
        });

        var id = new Argument<int>("id") { Description = "User id" };
        var show = new Command("show", "Show a user's wallet") { id };
        runner.Handle(show, async (parse, context) =>
        {
            Print(context, await context.Api.GetAsync($"api/users/{parse.GetValue(id)}", context.CancellationToken).ConfigureAwait(false), null);
            return ExitCodes.Ok;
        });

        var updateId = new Argument<int>("id") { Description = "User id" };
        var newName = new Option<string>("--name") { Description = "New display name" };
        var newGroup = new Option<string>("--group") { Description = "New price group (its keys' next requests are priced in it)" };
        var update = new Command("update", "Rename a user or change its price group") { updateId, newName, newGroup };
        runner.Handle(update, async (parse, context) =>
        {
            var body = new JsonObject();
            if (parse.GetValue(newName) is { } updatedName)
            {
                body["name"] = updatedName;
            }

            if (parse.GetValue(newGroup) is { } updatedGroup)
            {
                body["group"] = updatedGroup;
            }

            Print(context, await context.Api.PutAsync($"api/users/{parse.GetValue(updateId)}", body, context.CancellationToken).ConfigureAwait(false), "updated");
            return ExitCodes.Ok;
        });

        var creditId = new Argument<int>("id") { Description = "User id" };
        var delta = new Option<long>("--delta") { Description = "Units to add (negative debits; never below zero)", Required = true };
        var credit = new Command("credit", "Top up (or debit) a wallet") { creditId, delta };
        runner.Handle(credit, async (parse, context) =>
        {
            var body = new JsonObject { ["delta"] = parse.GetValue(delta) };
            JsonElement user = await context.Api.PostAsync($"api/users/{parse.GetValue(creditId)}/quota", body, context.CancellationToken).ConfigureAwait(false);
            Print(context, user, "credited");
            return ExitCodes.Ok;
        });

        users.Add(create);
        users.Add(show);
        users.Add(update);
        users.Add(credit);
        return users;
    }

    private static void Print(CommandContext context, JsonElement user, string? verb)
    {
        if (context.Terminal.Json)
        {
            context.Terminal.WriteJson(user);
            return;
        }

        if (verb is not null)
        {
            context.Terminal.Line($"User {Format.Number(user, "id")} {verb}.");
        }

        var table = new Table().AddColumns("ID", "NAME", "GROUP", "QUOTA", "USED", "RESERVED", "CREATED");
        table.AddRow(
            new Text(Format.Number(user, "id").ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new Text(Format.Text(user, "name")),
            new Text(Format.Text(user, "group")),
            new Text(Format.Units(Format.Number(user, "quota"))),
            new Text(Format.Units(Format.Number(user, "used_quota"))),
            new Text(Format.Units(Format.Number(user, "reserved_quota"))),
            new Text(Format.Time(Format.Number(user, "created_time"))));
        context.Terminal.Write(table);
    }
}
