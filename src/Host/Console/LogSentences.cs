using System.Text.Json;
using Quota.Engine.Persistence;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// A log row as a sentence in the reader's language, built from the row's structured parameters (the stored English
/// content is only a fallback for actions this console does not know).
/// </summary>
public static class LogSentences
{
    /// <summary>The filter's types: consume rows and each system action, in the order of the filter.</summary>
    public static readonly string[] Types =
    [
        "consume",
        "token.quota_policy.exhausted_disable",
        "token.quota_policy.auto_restore_reset",
        "token.quota_policy.manual_reset",
        "token.quota_policy.update_disable",
        "token.quota_policy.update_restore",
        "reservation.expired",
    ];

    public static string TypeLabel(string type) => T.Get("LogType_" + type.Replace('.', '_'));

    internal static string Render(LogDocument row, string keyName, OperatorClock clock)
    {
        using JsonDocument json = JsonDocument.Parse(string.IsNullOrEmpty(row.ParamsJson) ? "{}" : row.ParamsJson);
        JsonElement p = json.RootElement;
        string key = keyName.Length > 0 ? keyName : "#" + row.TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string policy = Long(p, "policy_index") is { } index and >= 0 ? PolicyLabel(index, p) : T.Get("Log_AllPolicies");
        string next = Long(p, "next_reset_at") is { } at and > 0 ? clock.Format(at * 1000) : "—";
        if (row.Type == "consume")
        {
            return T.Format("Log_consume", key, T.N(row.QuotaUnits), row.Model ?? "", T.N(row.PromptTokens), T.N(row.CompletionTokens));
        }

        return row.Action switch
        {
            "token.quota_policy.exhausted_disable" => T.Format("Log_exhausted_disable", key, policy, T.N(Long(p, "used_quota") ?? 0), T.N(Long(p, "quota") ?? 0), next),
            "token.quota_policy.auto_restore_reset" => T.Format("Log_auto_restore_reset", key, policy, next),
            "token.quota_policy.manual_reset" => T.Format("Log_manual_reset", key, policy, next),
            "token.quota_policy.update_disable" => T.Format("Log_update_disable", key, policy, T.N(Long(p, "used_quota") ?? 0), T.N(Long(p, "quota") ?? 0), next),
            "token.quota_policy.update_restore" => T.Format("Log_update_restore", key, policy, next),
            "reservation.expired" => T.Format("Log_reservation_expired", key, p.TryGetProperty("reservation_id", out JsonElement id) ? id.ToString() : "", T.N(Long(p, "amount") ?? row.QuotaUnits)),
            _ => row.Content,
        };
    }

    /// <summary>"policy 2 (Requests)": the position and, on rows that record it, what the policy counts.</summary>
    private static string PolicyLabel(long index, JsonElement p) =>
        p.TryGetProperty("metric", out JsonElement metric) && Enum.TryParse(metric.GetString(), ignoreCase: true, out Engine.Model.PolicyMetric value) && Enum.IsDefined(value)
            ? T.Format("Log_PolicyNMetric", index + 1, T.Get("Metric_" + value))
            : T.Format("Log_PolicyN", index + 1);

    private static long? Long(JsonElement p, string name) =>
        p.ValueKind == JsonValueKind.Object && p.TryGetProperty(name, out JsonElement value) && value.TryGetInt64(out long number) ? number : null;
}
