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
    /// <summary>display_status (docs/api.md "Keys (tokens)"): the operator status, or the policy pause and whether its reset time has passed.</summary>
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

    internal static TokenResponse ToJson(TokenView view, TokenDocument label, string? key = null)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(label);
        PolicyResponse[] policies = view.Policies.Select(p => PolicyJson.ToJson(view.TokenId, p)).ToArray();
        return new TokenResponse(
            Id: view.TokenId,
            UserId: view.UserId,
            Name: label.Name,
            Key: key,
            KeyPreview: label.KeyPreview,
            Status: (int)view.Status,
            DisplayStatus: DisplayStatus(view),
            RemainQuota: view.RemainQuotaUnits,
            UnlimitedQuota: view.UnlimitedQuota,
            UsedQuota: view.UsedQuotaUnits,
            ReservedQuota: view.ReservedQuotaUnits,
            ExpiredTime: view.ExpiresAtMs == -1 ? -1 : view.ExpiresAtMs / 1000,
            CreatedTime: label.CreatedMs / 1000,
            QuotaPolicyEnabled: view.Policies.Any(p => p.Spec.Enabled),
            QuotaPolicy: policies.FirstOrDefault(),
            QuotaPolicies: policies);
    }
}
