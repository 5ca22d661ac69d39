using System.Globalization;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Relay;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// The host's reading of the log's structured events (<see cref="LogDocument"/>): their API names (<c>action</c>,
/// <c>type</c>), their parameters, and their sentences in the current UI culture. The console and <c>GET /api/logs</c>
/// both render through here, so a row reads the same in both; each caller says how to write an instant.
/// </summary>
internal static class LogSentences
{
    /// <summary>The action of consume rows (the relay's requests).</summary>
    public const string ConsumeAction = "relay";

    private static readonly (LogKind Kind, string Action)[] Actions =
    [
        (LogKind.ExhaustedDisable, "token.quota_policy.exhausted_disable"),
        (LogKind.AutoRestoreReset, "token.quota_policy.auto_restore_reset"),
        (LogKind.ManualReset, "token.quota_policy.manual_reset"),
        (LogKind.UpdateDisable, "token.quota_policy.update_disable"),
        (LogKind.UpdateRestore, "token.quota_policy.update_restore"),
        (LogKind.ReservationExpired, "reservation.expired"),
        (LogKind.ThresholdReached, "quota.threshold_reached"),
        (LogKind.ShadowRefusal, "token.quota_policy.shadow_refusal"),
        (LogKind.Refusal, RefusalAction),
    ];

    /// <summary>The action of refusal rows (a request the relay or the quota API refused).</summary>
    public const string RefusalAction = "request.refused";

    /// <summary>The console filter's types: consume rows and each system action, in the order of the filter.</summary>
    public static readonly string[] Types = ["consume", .. Actions.Select(a => a.Action)];

    public static string TypeLabel(string type) => T.Get("LogType_" + type.Replace('.', '_'));

    /// <summary>The API's <c>type</c>: consume or system.</summary>
    public static string TypeOf(LogDocument row) => row.Kind == LogKind.Consume ? "consume" : "system";

    /// <summary>The API's <c>action</c> of a row.</summary>
    public static string ActionOf(LogKind kind)
    {
        foreach ((LogKind k, string action) in Actions)
        {
            if (k == kind)
            {
                return action;
            }
        }

        return kind == LogKind.Consume ? ConsumeAction : "unknown";
    }

    /// <summary>The kind an API action or console type names; null when it names none.</summary>
    public static LogKind? KindOf(string action)
    {
        foreach ((LogKind kind, string name) in Actions)
        {
            if (name == action)
            {
                return kind;
            }
        }

        return action is ConsumeAction or "consume" ? LogKind.Consume : null;
    }

    /// <summary>The console's type label key of a row (the filter's vocabulary).</summary>
    public static string TypeKey(LogDocument row) => row.Kind == LogKind.Consume ? "consume" : ActionOf(row.Kind);

    /// <summary>
    /// The row as a sentence in the current UI culture; <paramref name="formatTime"/> writes an instant (Unix ms). A key
    /// without a name reads as its id (the store gives back an empty name as null: LiteDB's mapper).
    /// </summary>
    public static string Render(LogDocument row, string? keyName, Func<long, string> formatTime)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(formatTime);
        string key = !string.IsNullOrEmpty(keyName) ? keyName : "#" + row.TokenId.ToString(CultureInfo.InvariantCulture);
        string policy = row.PolicyIndex >= 0 ? PolicyLabel(row) : T.Get("Log_AllPolicies");
        string next = row.WindowEndMs > 0 ? formatTime(row.WindowEndMs) : "—";
        return row.Kind switch
        {
            LogKind.Consume => Consume(row, key, formatTime),
            LogKind.Refusal => Refusal(row, key, formatTime),
            LogKind.ExhaustedDisable => T.Format("Log_exhausted_disable", key, policy, T.N(row.UsedUnits), T.N(row.LimitUnits), next),
            LogKind.AutoRestoreReset => T.Format("Log_auto_restore_reset", key, policy, next),
            LogKind.ManualReset => T.Format("Log_manual_reset", key, policy, next),
            LogKind.UpdateDisable => T.Format("Log_update_disable", key, policy, T.N(row.UsedUnits), T.N(row.LimitUnits), next),
            LogKind.UpdateRestore => T.Format("Log_update_restore", key, policy, next),
            LogKind.ReservationExpired => T.Format("Log_reservation_expired", key, new ReservationId(row.ReservationId).ToString(), T.N(row.AmountUnits)),
            LogKind.ThresholdReached when row.PolicyIndex < 0 =>
                T.Format("Log_threshold_wallet", row.UserId, row.ThresholdPercent, T.N(row.UsedUnits), T.N(row.LimitUnits)),
            LogKind.ShadowRefusal => T.Format("Log_shadow_refusal", key, policy, T.N(row.UsedUnits), T.N(row.LimitUnits), next),
            LogKind.ThresholdReached => T.Format("Log_threshold_policy", key, policy, row.ThresholdPercent, T.N(row.UsedUnits), T.N(row.LimitUnits), next),
            _ => ActionOf(row.Kind),
        };
    }

    /// <summary>
    /// The API's <c>params</c> of a row: the numbers a reader localizes from (times in Unix seconds). Policy rows
    /// carry the policy's <c>metric</c>; consume rows the relay's estimate and settle.
    /// </summary>
    public static Dictionary<string, object?> Params(LogDocument row)
    {
        ArgumentNullException.ThrowIfNull(row);
        long nextResetAt = row.WindowEndMs / 1000;
        string metric = Admin.PolicyNames.NameOf(Admin.PolicyNames.Metrics, row.Metric);
        return row.Kind switch
        {
            LogKind.Consume => ConsumeRow.Read(row) is { } c ? c.Params() : [],
            LogKind.Refusal => RefusalRow.Read(row) is { } r ? RefusalParams(r) : [],
            LogKind.AutoRestoreReset => new() { ["previous_status"] = (int)row.PreviousStatus, ["new_period_start"] = row.WindowStartMs / 1000, ["next_reset_at"] = nextResetAt, ["policy_index"] = row.PolicyIndex, ["metric"] = metric },
            LogKind.ManualReset => new() { ["used_quota"] = 0, ["next_reset_at"] = nextResetAt, ["policy_index"] = row.PolicyIndex, ["metric"] = metric },
            LogKind.ReservationExpired => new() { ["reservation_id"] = new ReservationId(row.ReservationId).ToString(), ["amount"] = row.AmountUnits },
            LogKind.ThresholdReached when row.PolicyIndex < 0 =>
                new() { ["scope"] = "wallet", ["threshold_percent"] = row.ThresholdPercent, ["used_quota"] = row.UsedUnits, ["quota"] = row.LimitUnits, ["since"] = row.WindowStartMs / 1000 },
            LogKind.ThresholdReached => new()
            {
                ["scope"] = "policy", ["threshold_percent"] = row.ThresholdPercent, ["used_quota"] = row.UsedUnits, ["quota"] = row.LimitUnits,
                ["period_start"] = row.WindowStartMs / 1000, ["next_reset_at"] = nextResetAt, ["policy_index"] = row.PolicyIndex, ["metric"] = metric,
            },
            _ => new() { ["used_quota"] = row.UsedUnits, ["quota"] = row.LimitUnits, ["next_reset_at"] = nextResetAt, ["policy_index"] = row.PolicyIndex, ["metric"] = metric },
        };
    }

    /// <summary>A refusal row's <c>params</c>: the reason, the model, the surface and the admission's fields.</summary>
    private static Dictionary<string, object?> RefusalParams(RefusalRow refusal) => new()
    {
        ["reason"] = refusal.Reason, ["model"] = refusal.Model, ["surface"] = refusal.Surface, ["checked"] = refusal.Admission.Checked,
        ["refused_by"] = refusal.Admission.RefusedBy, ["reopens_at"] = refusal.Admission.ReopensAtMs / 1000,
    };

    private static string Refusal(LogDocument row, string key, Func<long, string> formatTime)
    {
        RefusalRow? refusal = RefusalRow.Read(row);
        string sentence = T.Format("Log_refused", key, refusal?.Model ?? "—", ReasonLabel(refusal?.Reason ?? ""));
        return refusal is null ? sentence : sentence + " " + Explain(refusal.Admission, formatTime);
    }

    /// <summary>A refusal reason (a <see cref="ReserveResult"/> name) in the reader's language.</summary>
    public static string ReasonLabel(string reason) => T.Get("Refusal_" + reason);

    /// <summary>
    /// "Checked: key, user wallet, policy 2 (Daily); refused by policy 2 (Daily); reopens …": the admission's fields as
    /// one sentence (the console, <c>/api/logs</c> and the key holder's page).
    /// </summary>
    public static string Explain(AdmissionTrace trace, Func<long, string> formatTime)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(formatTime);
        string sentence = T.Format("Explain_Checked", string.Join(T.Get("Explain_Separator"), trace.Checked.Select(AccountLabel)));
        if (trace.RefusedBy is not { } refusedBy)
        {
            return sentence + T.Get("Explain_End");
        }

        sentence += T.Format("Explain_RefusedBy", AccountLabel(refusedBy));
        return sentence + (trace.ReopensAtMs is { } reopens ? T.Format("Explain_Reopens", formatTime(reopens)) : T.Get("Explain_NoReopen"));
    }

    private static string AccountLabel(CheckedAccount account) => account.Account == CheckedAccount.Policy
        ? T.Format("Account_policy", (account.PolicyIndex ?? 0) + 1, T.Get("Period_" + account.PeriodMode))
        : T.Get("Account_" + account.Account);

    private static string Consume(LogDocument row, string key, Func<long, string> formatTime)
    {
        ConsumeRow? c = ConsumeRow.Read(row);
        string sentence = T.Format("Log_consume", key, T.N(row.AmountUnits), c?.Model ?? "", T.N(c?.PromptTokens ?? 0), T.N(c?.CompletionTokens ?? 0));
        if (c is not null && (c.Protocol is "messages" or "responses" || c.CacheReadTokens + c.CacheWrite5mTokens + c.CacheWrite1hTokens + c.ReasoningTokens > 0))
        {
            sentence += T.Format("Log_tokenKinds", c.Protocol ?? "chat", c.Provider ?? "default", T.N(c.InputTokens), T.N(c.CacheReadTokens),
                T.N(c.CacheWrite5mTokens), T.N(c.CacheWrite1hTokens), T.N(c.ReasoningTokens));
        }

        if (c?.ReportedCompletionTokens is { } reported)
        {
            sentence += T.Format("Log_clamped", T.N(reported));
        }

        sentence = c is { Counted: true } ? sentence + T.Get("Log_counted") : sentence;
        return c?.Admission is { } admission ? sentence + " " + Explain(admission, formatTime) : sentence;
    }

    /// <summary>"policy 2 (Requests)": the position and what the policy counts.</summary>
    private static string PolicyLabel(LogDocument row) => T.Format("Log_PolicyNMetric", row.PolicyIndex + 1, T.Get("Metric_" + row.Metric));
}
