using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Quota.Engine.Model;
using Quota.Host.Configuration;
using Quota.Host.Relay;
using Quota.Host.Relay.Protocols;
using Quota.Host.Runtime;

namespace Quota.Host.Limits;

/// <summary>One window of <c>GET /api/oauth/usage</c>: percent used (0 … 100) and when it resets (ISO 8601, UTC).</summary>
public sealed record UsageWindow(double Utilization, string ResetsAt);

/// <summary>The calling key's 5-hour and 7-day windows, each null when the key has no such policy.</summary>
public sealed record OAuthUsage(UsageWindow? FiveHour, UsageWindow? SevenDay);

/// <summary>
/// <c>GET /api/oauth/usage</c> with the relay key (<c>x-api-key</c> or <c>Authorization: Bearer</c>, as on
/// <c>/v1/messages</c>): the shape Claude Code's status-line tools read from Anthropic, with this relay's numbers
/// (README "Claude Code"). Its refusals are the relay's 401s, in Anthropic's error shape.
/// </summary>
public static class UsageEndpoint
{
    public static WebApplication MapUsage(this WebApplication app)
    {
        app.MapGet("/api/oauth/usage", Usage).WithSummary("The calling key's 5-hour and 7-day windows, for status lines (x-api-key or Bearer)")
            .Produces<OAuthUsage>().Produces<AnthropicErrorBody>(401);
        return app;
    }

    private static Results<Ok<OAuthUsage>, JsonHttpResult<AnthropicErrorBody>> Usage(HttpContext context, QuotaRuntime runtime, IOptions<RelayOptions> options)
    {
        long now = runtime.NowMs;
        if (RelayEndpoints.Authenticate(context, runtime, anthropic: true) is not { } tokenId || runtime.ReadToken(tokenId, now, fresh: false) is not { } view)
        {
            return AnthropicShape.Error(401, "invalid_api_key", "invalid API key");
        }

        // As on /v1/quota: a key the operator disabled, or one that expired, is not a key any more; a key a policy
        // paused still reads its numbers (that is when a status line matters most).
        if (view.OperatorStatus == TokenStatus.Disabled || view.Expired)
        {
            return AnthropicShape.Error(401, "invalid_api_key", view.Expired ? "API key has expired" : "API key is disabled");
        }

        UnifiedLimits limits = UnifiedLimits.Of(view, now, options.Value.UnifiedWarnAt);
        return TypedResults.Ok(new OAuthUsage(Window(limits.FiveHour), Window(limits.SevenDay)));
    }

    private static UsageWindow? Window(PolicyView? policy) =>
        policy is null ? null : new UsageWindow(UnifiedLimits.TenThousandths(policy) / 100.0, UnifiedLimits.ResetIso(policy));
}
