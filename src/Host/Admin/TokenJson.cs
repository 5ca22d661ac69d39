using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Host.Admin;

/// <summary>A key as a client sends it (create and update).</summary>
public sealed class TokenInput
{
    public int? UserId { get; set; }
    public string? Name { get; set; }
    public long? RemainQuota { get; set; }
    public bool? UnlimitedQuota { get; set; }
    public long? ExpiredTime { get; set; }
    public int? Status { get; set; }
    public PolicyInput? QuotaPolicy { get; set; }
    public PolicyInput[]? QuotaPolicies { get; set; }
}

public static class TokenJson
{
    /// <summary>API.md display_status: the operator status, or the policy pause and whether its reset time has passed.</summary>
    public static string DisplayStatus(TokenView view)
    {
        if (view.OperatorStatus == TokenStatus.Disabled)
        {
            return "disabled";
        }

        if (view.Paused)
        {
            return view.Policies.Any(p => p.PausesKey && p.Recovering) ? "quota_policy_recovering" : "quota_policy_disabled";
        }

        return view.Status switch
        {
            TokenStatus.Expired => "expired",
            TokenStatus.Exhausted => "exhausted",
            _ => "enabled",
        };
    }

    public static object ToJson(TokenView view, TokenDocument label, string? key = null)
    {
        object[] policies = view.Policies.Select(p => PolicyJson.ToJson(view.TokenId, p)).ToArray();
        return new
        {
            id = view.TokenId,
            user_id = view.UserId,
            name = label.Name,
            key,
            key_preview = label.KeyPreview,
            status = (int)view.Status,
            display_status = DisplayStatus(view),
            remain_quota = view.RemainQuotaUnits,
            unlimited_quota = view.UnlimitedQuota,
            used_quota = view.UsedQuotaUnits,
            reserved_quota = view.ReservedQuotaUnits,
            expired_time = view.ExpiresAtMs == -1 ? -1 : view.ExpiresAtMs / 1000,
            created_time = label.CreatedMs / 1000,
            quota_policy_enabled = view.Policies.Any(p => p.Spec.Enabled),
            quota_policy = policies.FirstOrDefault(),
            quota_policies = policies,
        };
    }
}
