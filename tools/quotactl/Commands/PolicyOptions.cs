using System.CommandLine;
using System.Text.Json.Nodes;
using Quota.Ctl.Cli;

namespace Quota.Ctl.Commands;

/// <summary>
/// The options that describe one quota policy (shared by <c>keys create</c> and <c>policies set</c>), turned into
/// the API's policy object. Values are checked by the host, which names the field of a bad one.
/// </summary>
internal sealed class PolicyOptions
{
    public PolicyOptions(string quotaName)
    {
        Period = new Option<string?>("--period") { Description = "Window: preset_5h, daily, weekly, monthly or custom" };
        Period.AcceptOnlyFromAmong("preset_5h", "daily", "weekly", "monthly", "custom");
        Quota = new Option<long?>(quotaName) { Description = "Units the window allows" };
        CustomMinutes = new Option<int?>("--custom-minutes") { Description = "Window length for --period custom" };
        TimeZone = new Option<string?>("--time-zone") { Description = "IANA time zone of calendar windows (default UTC)" };
        ExhaustedAction = new Option<string?>("--exhausted-action") { Description = "reject_only (default) or disable_token (pause the key)" };
        ExhaustedAction.AcceptOnlyFromAmong("reject_only", "disable_token");
        Boundary = new Option<string?>("--boundary") { Description = "graceful_boundary (default) or strict_pre_check" };
        Boundary.AcceptOnlyFromAmong("graceful_boundary", "strict_pre_check");
        NoAutoResume = new Option<bool>("--no-auto-resume") { Description = "Keep a paused key paused after the reset, until a manual reset" };
        Anchor = new Option<long?>("--anchor") { Description = "Anchor of the windows, Unix seconds (default now)" };
    }

    public Option<string?> Period { get; }
    public Option<long?> Quota { get; }
    public Option<int?> CustomMinutes { get; }
    public Option<string?> TimeZone { get; }
    public Option<string?> ExhaustedAction { get; }
    public Option<string?> Boundary { get; }
    public Option<bool> NoAutoResume { get; }
    public Option<long?> Anchor { get; }

    public void AddTo(Command command)
    {
        command.Add(Period);
        command.Add(Quota);
        command.Add(CustomMinutes);
        command.Add(TimeZone);
        command.Add(ExhaustedAction);
        command.Add(Boundary);
        command.Add(NoAutoResume);
        command.Add(Anchor);
    }

    /// <summary>The policy object, or null when no <c>--period</c> was given (and no other policy option).</summary>
    public JsonObject? Build(ParseResult parse)
    {
        string? period = parse.GetValue(Period);
        if (period is null)
        {
            bool any = parse.GetValue(Quota) is not null || parse.GetValue(CustomMinutes) is not null || parse.GetValue(TimeZone) is not null
                || parse.GetValue(ExhaustedAction) is not null || parse.GetValue(Boundary) is not null || parse.GetValue(Anchor) is not null
                || parse.GetValue(NoAutoResume);
            return any ? throw new UsageException($"{Period.Name} is required with the other policy options") : null;
        }

        var policy = new JsonObject { ["period_mode"] = period };
        Set(policy, "quota", parse.GetValue(Quota));
        Set(policy, "custom_minutes", parse.GetValue(CustomMinutes));
        Set(policy, "time_zone", parse.GetValue(TimeZone));
        Set(policy, "exhausted_action", parse.GetValue(ExhaustedAction));
        Set(policy, "boundary_mode", parse.GetValue(Boundary));
        Set(policy, "anchor_time", parse.GetValue(Anchor));
        if (parse.GetValue(NoAutoResume))
        {
            policy["auto_resume"] = false;
        }

        return policy;
    }

    private static void Set<T>(JsonObject target, string name, T? value)
    {
        if (value is not null)
        {
            target[name] = JsonValue.Create(value);
        }
    }
}
