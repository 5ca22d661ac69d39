using System.ComponentModel;
using System.Text.Json;

namespace Quota.Host.Admin;

// The admin API's response bodies as types, so the OpenAPI document describes each one (snake_case on the wire).

public sealed record UserResponse(int Id, string Name, string Group, long Quota, long UsedQuota, long ReservedQuota, long CreatedTime);

public sealed record PolicyResponse(
    int Id, bool Enabled, string PeriodMode, int CustomMinutes, long Quota, long AnchorTime, string TimeZone, string ExhaustedAction,
    string BoundaryMode, bool AutoResume, long UsedQuota, long ReservedQuota, long PeriodStart, long PeriodEnd, long NextResetAt,
    long ExhaustedAt, int ExhaustedTokenStatus, [property: Description(PolicyNames.MetricDescription)] string Metric,
    [property: Description(PolicyNames.ModelsDescription)] IReadOnlyList<string> Models,
    [property: Description(PolicyNames.EnforcementDescription)] string Mode,
    [property: Description("A shadow policy: the requests of the current window it would have refused (0 for an enforcing policy).")] long ShadowRefusals);

public sealed record TokenResponse(
    int Id, int UserId, string Name, string? Key, string KeyPreview, int Status, string DisplayStatus, long RemainQuota, bool UnlimitedQuota,
    long UsedQuota, long ReservedQuota, long ExpiredTime, long CreatedTime, bool QuotaPolicyEnabled, PolicyResponse? QuotaPolicy,
    IReadOnlyList<PolicyResponse> QuotaPolicies);

public sealed record TokenPage(IReadOnlyList<TokenResponse> Items, int Total);

public sealed record LogItem(
    long Id, long CreatedTime, string Type, int UserId, int TokenId, string TokenName, string Action, string Content, JsonElement Params,
    string? Model, long PromptTokens, long CompletionTokens, long Quota);

public sealed record LogPage(IReadOnlyList<LogItem> Items, int Total);
