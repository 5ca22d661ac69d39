using System.CommandLine;
using System.Text.Json.Nodes;

namespace Quota.Ctl.Commands;

/// <summary>A key's own fields (create and update); only the options given are sent, so an update changes only them.</summary>
internal sealed class KeyFieldOptions
{
    public Option<string?> Name { get; } = new("--name") { Description = "Label of the key" };
    public Option<long?> RemainQuota { get; } = new("--remain-quota") { Description = "Lifetime budget of the key, in units" };
    public Option<bool?> Unlimited { get; } = new("--unlimited") { Description = "Do not enforce the lifetime budget (true/false)" };
    public Option<long?> Expires { get; } = new("--expires") { Description = "Expiry, Unix seconds (-1: never)" };

    public void AddTo(Command command)
    {
        command.Add(Name);
        command.Add(RemainQuota);
        command.Add(Unlimited);
        command.Add(Expires);
    }

    public JsonObject Build(ParseResult parse)
    {
        var body = new JsonObject();
        if (parse.GetValue(Name) is { } name)
        {
            body["name"] = name;
        }

        if (parse.GetValue(RemainQuota) is { } remain)
        {
            body["remain_quota"] = remain;
        }

        if (parse.GetValue(Unlimited) is { } unlimited)
        {
            body["unlimited_quota"] = unlimited;
        }

        if (parse.GetValue(Expires) is { } expires)
        {
            body["expired_time"] = expires;
        }

        return body;
    }
}
