using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Quota.Engine.Diagnostics;
using Quota.Host.Admin;

namespace Quota.Host.Alerts;

/// <summary>
/// A budget alert as its webhook sees it (snake_case JSON; times in Unix seconds). <see cref="Id"/> is the idempotency
/// id: one per account, window and threshold — <c>key-7:policy-0:1764288000000:80</c> or
/// <c>user-3:wallet:1764288000000:100</c> — the same on every retry and after a restart.
/// </summary>
public sealed record AlertMessage(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("scope")] string Scope,
    [property: JsonPropertyName("token_id")] int TokenId,
    [property: JsonPropertyName("user_id")] int UserId,
    [property: JsonPropertyName("policy_index")] int PolicyIndex,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("threshold_percent")] int ThresholdPercent,
    [property: JsonPropertyName("used")] long Used,
    [property: JsonPropertyName("limit")] long Limit,
    [property: JsonPropertyName("window_start")] long WindowStart,
    [property: JsonPropertyName("window_end")] long WindowEnd,
    [property: JsonPropertyName("occurred_at")] long OccurredAt,
    [property: JsonPropertyName("reason"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null)
{
    /// <summary>The <c>type</c> of a window that was exhausted and admits again (docs/alerts.md "Recovery").</summary>
    public const string RecoveredType = "quota.recovered";
    /// <summary>The <c>type</c> of a key spending fast enough to use up its weekly window before it resets (docs/relay.md "Unified limits").</summary>
    public const string BurnRateType = "quota.burn_rate_warning";

    public const string SignatureHeader = "X-Quota-Signature";
    public const string EventIdHeader = "X-Quota-Event-Id";

    public static AlertMessage From(in AuditEvent e)
    {
        bool wallet = e.PolicyIndex < 0;
        string id = wallet
            ? string.Create(CultureInfo.InvariantCulture, $"user-{e.UserId}:wallet:{e.NewPeriodStartMs}:{e.ThresholdPercent}")
            : string.Create(CultureInfo.InvariantCulture, $"key-{e.TokenId}:policy-{e.PolicyIndex}:{e.NewPeriodStartMs}:{e.ThresholdPercent}");
        return new AlertMessage(id, "quota.threshold_reached", wallet ? "wallet" : "policy", e.TokenId, e.UserId, e.PolicyIndex,
            PolicyNames.NameOf(PolicyNames.Metrics, e.Metric), e.ThresholdPercent, e.UsedQuotaUnits, e.QuotaUnits,
            e.NewPeriodStartMs / 1000, e.NextResetAtMs / 1000, e.AtMs / 1000);
    }

    /// <summary>
    /// A policy's exhausted window admits again (<paramref name="reason"/>: <c>rolled_over</c>, <c>reset</c> or
    /// <c>restored</c>); <c>used</c>, <c>limit</c> and the window are the exhausted window's. One per exhausted window:
    /// <c>key-7:policy-0:1764288000000:recovered</c>.
    /// </summary>
    public static AlertMessage Recovered(in ExhaustedWindow window, string reason, long atMs) => new(
        string.Create(CultureInfo.InvariantCulture, $"key-{window.TokenId}:policy-{window.PolicyIndex}:{window.StartMs}:recovered"),
        RecoveredType, "policy", window.TokenId, window.UserId, window.PolicyIndex, PolicyNames.NameOf(PolicyNames.Metrics, window.Metric), 0,
        window.UsedUnits, window.QuotaUnits, window.StartMs / 1000, window.EndMs / 1000, atMs / 1000, reason);

    /// <summary>
    /// The burn-rate rule first held in a weekly window (<paramref name="weekly"/>: the weekly policy as it was then). One
    /// per weekly window: <c>key-7:policy-1:1764288000000:burn_rate</c>.
    /// </summary>
    public static AlertMessage BurnRate(int tokenId, int userId, Engine.Model.PolicyView weekly, long atMs)
    {
        ArgumentNullException.ThrowIfNull(weekly);
        return new AlertMessage(
            string.Create(CultureInfo.InvariantCulture, $"key-{tokenId}:policy-{weekly.Index}:{weekly.PeriodStartMs}:burn_rate"),
            BurnRateType, "policy", tokenId, userId, weekly.Index, PolicyNames.NameOf(PolicyNames.Metrics, weekly.Spec.Metric), 0,
            weekly.UsedQuotaUnits, weekly.Spec.QuotaUnits, weekly.PeriodStartMs / 1000, weekly.PeriodEndMs / 1000, atMs / 1000);
    }

    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>
    /// The <c>X-Quota-Signature</c> value, <c>t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</c>: the lowercase hex HMAC-SHA256 of
    /// <c>"&lt;t&gt;.&lt;body&gt;"</c>. The time is signed with the body, so a receiver that refuses a stale <c>t</c> cannot
    /// be sent a captured delivery again later (docs/alerts.md "The webhook").
    /// </summary>
    public static string Sign(string body, string secret, long unixSeconds)
    {
        string t = unixSeconds.ToString(CultureInfo.InvariantCulture);
        byte[] mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(t + "." + body));
        return "t=" + t + ",v1=" + Convert.ToHexStringLower(mac);
    }
}
