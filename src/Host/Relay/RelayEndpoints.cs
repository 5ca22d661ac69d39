using Microsoft.Extensions.Options;
using Quota.Engine.Model;
using Quota.Host.Admin;
using Quota.Host.Configuration;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>
/// The OpenAI-compatible relay (API.md): authenticate → read the body strictly → count and price the estimate, cap
/// the completion → reserve → forward (<see cref="RelayCall"/>) → settle from the upstream's usage, or refund.
/// </summary>
public static class RelayEndpoints
{
    public const string UpstreamClient = "upstream";

    public static RouteGroupBuilder MapRelay(this RouteGroupBuilder group)
    {
        group.MapPost("/chat/completions", (HttpContext context, QuotaRuntime runtime, Pricing pricing, IHttpClientFactory clients, ILoggerFactory logs) =>
            RelayAsync(context, runtime, pricing, clients.CreateClient(UpstreamClient), logs.CreateLogger("Relay"), RelayEndpoint.ChatCompletions));
        group.MapPost("/embeddings", (HttpContext context, QuotaRuntime runtime, Pricing pricing, IHttpClientFactory clients, ILoggerFactory logs) =>
            RelayAsync(context, runtime, pricing, clients.CreateClient(UpstreamClient), logs.CreateLogger("Relay"), RelayEndpoint.Embeddings));
        group.MapGet("/models", (Pricing pricing) => Results.Ok(new
        {
            @object = "list",
            data = pricing.Models.Select(id => new { id, @object = "model", owned_by = "quota-engine" }).ToArray(),
        }));
        group.MapGet("/quota", OwnQuota);
        return group;
    }

    private static IResult OwnQuota(HttpContext context, QuotaRuntime runtime)
    {
        if (Authenticate(context, runtime) is not { } tokenId || runtime.Engine.ReadToken(tokenId, runtime.NowMs) is not { } view)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        // Like the relay: a key the operator disabled, or one that expired, is not a key any more (a key paused by a
        // policy still reads its numbers, to see when it recovers).
        if (view.OperatorStatus == TokenStatus.Disabled || view.Expired)
        {
            return OpenAiError.Result(401, "invalid_api_key", view.Expired ? "API key has expired" : "API key is disabled");
        }

        RateLimitHeaders.Add(context.Response, view, runtime.NowMs);
        return Results.Ok(new
        {
            remain_quota = view.RemainQuotaUnits,
            unlimited_quota = view.UnlimitedQuota,
            policies = view.Policies.Where(p => p.Spec.Enabled).Select(p => new
            {
                period_mode = PolicyJson.ModeName(p.Spec.Mode),
                quota = p.Spec.QuotaUnits,
                used_quota = p.UsedQuotaUnits,
                remaining = p.RemainingUnits,
                next_reset_at = p.PeriodEndMs / 1000,
            }).ToArray(),
        });
    }

    private static int? Authenticate(HttpContext context, QuotaRuntime runtime) =>
        ApiKeys.BearerToken(context.Request) is { } key ? runtime.FindTokenByKey(key) : null;

    private static async Task<IResult> RelayAsync(HttpContext context, QuotaRuntime runtime, Pricing pricing, HttpClient upstream, ILogger logger, RelayEndpoint endpoint)
    {
        if (Authenticate(context, runtime) is not { } tokenId)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        StrictJson.Outcome body = await StrictJson.ReadObjectAsync(context.Request);
        if (!body.IsOk)
        {
            return body.Status == 413
                ? OpenAiError.Result(413, "request_too_large", body.Error!)
                : OpenAiError.InvalidRequest($"{body.Field}: {body.Error}", body.Field);
        }

        RelayRequest.Outcome parsed = RelayRequest.Parse(body.Value!, endpoint, pricing, pricing.DefaultMaxTokens);
        if (parsed.Value is not { } request)
        {
            return parsed.Status == 404
                ? OpenAiError.Result(404, "model_not_found", parsed.Error!, parsed.Field)
                : OpenAiError.InvalidRequest($"{parsed.Field}: {parsed.Error}", parsed.Field);
        }

        ReserveOutcome reserved = runtime.Engine.Reserve(tokenId, request.EstimateUnits, runtime.NowMs);
        Operations.HostMetrics.Count(context, reserved.Result);
        if (!reserved.IsOk)
        {
            return Rejection.Respond(context, runtime, tokenId, reserved);
        }

        UpstreamOptions options = context.RequestServices.GetRequiredService<IOptions<RelayOptions>>().Value.Upstream;
        var call = new RelayCall(context, runtime, pricing, logger, options, tokenId, request, reserved.Id);
        return await call.RunAsync(upstream, endpoint == RelayEndpoint.Embeddings ? "embeddings" : "chat/completions");
    }
}
