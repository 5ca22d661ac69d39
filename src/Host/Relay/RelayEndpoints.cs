using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Quota.Engine.Model;
using Quota.Host.Admin;
using Quota.Host.Configuration;
using Quota.Host.Errors;
using Quota.Host.Operations;
using Quota.Host.Quota;
using Quota.Host.Relay.Protocols;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>GET /v1/quota: the calling key's own numbers.</summary>
public sealed record OwnQuotaResponse(long RemainQuota, bool UnlimitedQuota, IReadOnlyList<OwnPolicy> Policies);

/// <summary>One enabled policy of the key: what it counts (<c>metric</c>: quota, tokens, requests; <c>quota</c>,
/// <c>used_quota</c> and <c>remaining</c> are in it) and the models it applies to (<c>models</c>: empty = every model).</summary>
public sealed record OwnPolicy(string PeriodMode, long Quota, long UsedQuota, long Remaining, long NextResetAt,
    [property: Description(PolicyNames.MetricDescription)] string Metric, [property: Description(PolicyNames.ModelsDescription)] IReadOnlyList<string> Models);

public sealed record ModelList([property: JsonPropertyName("object")] string Kind, IReadOnlyList<ModelEntry> Data);

public sealed record ModelEntry(string Id, [property: JsonPropertyName("object")] string Kind, string OwnedBy);

/// <summary>
/// The OpenAI-compatible relay (docs/relay.md): authenticate → refuse a key no reserve can pass (<see cref="KeyPrecheck"/>) → read the body strictly → count and price the estimate, cap
/// the completion → reserve → forward (<see cref="RelayCall"/>) → settle from the upstream's usage, or refund.
/// </summary>
public static class RelayEndpoints
{
    public static RouteGroupBuilder MapRelay(this RouteGroupBuilder group)
    {
        group.MapPost("/chat/completions", (HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, RelayUpstream upstream) =>
                RelayAsync(context, runtime, pricing, providers, upstream.Logger, RelayEndpoint.ChatCompletions))
            .Accepts<JsonObject>("application/json").WithSummary("OpenAI chat completion, relayed (stream or not)")
            .Produces<JsonObject>(200, "application/json", "text/event-stream").ProducesOpenAiErrors(400, 401, 403, 404, 413, 415, 422, 429, 502, 503);
        group.MapPost("/embeddings", (HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, RelayUpstream upstream) =>
                RelayAsync(context, runtime, pricing, providers, upstream.Logger, RelayEndpoint.Embeddings))
            .Accepts<JsonObject>("application/json").WithSummary("OpenAI embeddings, relayed")
            .Produces<JsonObject>().ProducesOpenAiErrors(400, 401, 403, 404, 413, 415, 422, 429, 502, 503);
        group.MapPost("/responses", (HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, RelayUpstream upstream) =>
                RelayAsync(context, runtime, pricing, providers, upstream.Logger, RelayEndpoint.Responses))
            .Accepts<JsonObject>("application/json").WithSummary("OpenAI Responses, relayed (stream or not; not background)")
            .Produces<JsonObject>(200, "application/json", "text/event-stream").ProducesOpenAiErrors(400, 401, 403, 404, 413, 415, 422, 429, 502, 503);
        group.MapPost("/messages", async (HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, RelayUpstream upstream) =>
                AnthropicShape.Convert(await RelayAsync(context, runtime, pricing, providers, upstream.Logger, RelayEndpoint.Messages)))
            .Accepts<JsonObject>("application/json").WithSummary("Anthropic Messages, relayed (stream or not); x-api-key or Bearer")
            .Produces<JsonObject>(200, "application/json", "text/event-stream").Produces<AnthropicErrorBody>(400).Produces<AnthropicErrorBody>(401)
            .Produces<AnthropicErrorBody>(403).Produces<AnthropicErrorBody>(404).Produces<AnthropicErrorBody>(429).Produces<AnthropicErrorBody>(502);
        group.MapPost("/messages/count_tokens", async (HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, RelayUpstream upstream) =>
                AnthropicShape.Convert(await CountTokens.ForwardAsync(context, runtime, pricing, providers, upstream.Logger)))
            .Accepts<JsonObject>("application/json").WithSummary("Anthropic token count, forwarded (not charged; the key is still checked)")
            .Produces<JsonObject>().Produces<AnthropicErrorBody>(400).Produces<AnthropicErrorBody>(401).Produces<AnthropicErrorBody>(502);
        group.MapGet("/models", (HttpContext context, Pricing pricing) => ModelListing.Answer(context, pricing))
            .WithSummary("The models the relay has prices for (Anthropic's shape when asked with anthropic-version and x-api-key)")
            .Produces<ModelList>();
        group.MapGet("/quota", OwnQuota).WithSummary("The calling key's own numbers").ProducesOpenAiErrors(401);
        return group;
    }

    private static Results<Ok<OwnQuotaResponse>, JsonHttpResult<OpenAiErrorBody>> OwnQuota(HttpContext context, QuotaRuntime runtime)
    {
        if (Authenticate(context, runtime) is not { } tokenId || runtime.ReadToken(tokenId, runtime.NowMs, fresh: false) is not { } view)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        // Like the relay: a key the operator disabled, or one that expired, is not a key any more (a key paused by a
        // policy still reads its numbers, to see when it recovers).
        if (view.OperatorStatus == TokenStatus.Disabled || view.Expired)
        {
            return OpenAiError.Result(401, "invalid_api_key", view.Expired ? "API key has expired" : "API key is disabled");
        }

        RateLimitHeaders.AddEvery(context.Response, view, runtime.NowMs);
        OwnPolicy[] policies = view.Policies.Where(p => PolicyNames.Limits(p.Spec))
            .Select(p => new OwnPolicy(PolicyJson.ModeName(p.Spec.Mode), p.Spec.QuotaUnits, p.UsedQuotaUnits, p.RemainingUnits, p.PeriodEndMs / 1000,
                PolicyNames.NameOf(PolicyNames.Metrics, p.Spec.Metric), p.Spec.Models))
            .ToArray();
        return TypedResults.Ok(new OwnQuotaResponse(view.RemainQuotaUnits, view.UnlimitedQuota, policies));
    }

    /// <summary>
    /// The key of <c>Authorization: Bearer</c>, or on Anthropic's routes of <c>x-api-key</c> too; a key that was sent but
    /// is unknown counts as a failed authentication (docs/operations.md "Failed authentication").
    /// </summary>
    internal static int? Authenticate(HttpContext context, QuotaRuntime runtime, bool anthropic = false)
    {
        string? key = ApiKeys.BearerToken(context.Request) is { } bearer ? bearer
            : anthropic && context.Request.Headers["x-api-key"].ToString() is { Length: > 0 } apiKey ? apiKey : null;
        int? tokenId = key is null ? null : runtime.FindTokenByKey(key);
        if (tokenId is null)
        {
            FailedAuthThrottle.Record(context, AuthSurface.Relay);
        }

        return tokenId;
    }

    /// <summary>400: the model's provider speaks another protocol (docs/relay.md "Providers").</summary>
    internal static JsonHttpResult<OpenAiErrorBody> WrongProtocol(string model, RelayProvider provider, RelayEndpoint endpoint) =>
        OpenAiError.InvalidRequest(
            $"model: '{model}' is served in the {RelayProvider.NameOf(provider.Protocol)} protocol (provider '{provider.Name}'), not {RelayProvider.NameOf(endpoint.Protocol())}; " +
            (provider.Protocol == ProviderProtocol.Anthropic ? "call POST /v1/messages" : "call POST /v1/chat/completions or /v1/responses"), "model");

    /// <summary>A refused reserve (or its early check) in the relay's error body; on /v1/messages with Anthropic's rate-limit headers too.</summary>
    private static JsonHttpResult<OpenAiErrorBody> Refuse(HttpContext context, QuotaRuntime runtime, int tokenId, RelayEndpoint endpoint, ReserveOutcome refused, string? model)
    {
        JsonHttpResult<OpenAiErrorBody> refusal = Rejection.Respond(context, runtime, tokenId, refused, model);
        if (endpoint == RelayEndpoint.Messages && runtime.ReadToken(tokenId, runtime.NowMs, fresh: false) is { } view)
        {
            AnthropicShape.RateLimitHeaders(context.Response, view, runtime.NowMs, model, refused.PolicyIndex);
            Limits.UnifiedHeaders.Write(context.Response, Limits.UnifiedHeaders.Of(context, view, runtime.NowMs, model, refused: true, refused.PolicyIndex));
        }

        return refusal;
    }

    private static async Task<IResult> RelayAsync(HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, ILogger logger, RelayEndpoint endpoint)
    {
        using Activity? span = HostTelemetry.Source.StartActivity("relay");
        if (Authenticate(context, runtime, endpoint == RelayEndpoint.Messages) is not { } tokenId)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        span?.SetTag(HostTelemetry.TokenId, tokenId);
        ReserveOutcome precheck = KeyPrecheck.Check(runtime, tokenId, runtime.NowMs, out int userId);
        if (!precheck.IsOk)
        {
            span?.SetTag(HostTelemetry.Decision, precheck.Result.ToString());
            Operations.HostMetrics.Count(context, precheck.Result);
            return Refuse(context, runtime, tokenId, endpoint, precheck, model: null);
        }

        StrictJson.Outcome body = await StrictJson.ReadObjectAsync(context.Request);
        if (!body.IsOk)
        {
            return OpenAiError.BadBody(body.Status, body.Field, body.Error!);
        }

        ResponseContexts? contexts = endpoint == RelayEndpoint.Responses ? context.RequestServices.GetRequiredService<ResponseContexts>() : null;
        long carried = contexts?.Carried(tokenId, body.Value!) ?? 0;
        RelayRequest.Outcome parsed;
        try
        {
            long multiplier = pricing.MultiplierPerMille(runtime.GroupOf(userId)); // cached: no store read per request
            parsed = RelayRequest.Parse(body.Value!, body.Bytes, endpoint, pricing, pricing.DefaultMaxTokens, multiplier, carried, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty; // the client left while its prompt was counted: nothing was reserved, no one to answer
        }

        if (parsed.Value is not { } request)
        {
            return parsed.Status == 404
                ? OpenAiError.Result(404, "model_not_found", parsed.Error!, parsed.Field)
                : OpenAiError.InvalidRequest($"{parsed.Field}: {parsed.Error}", parsed.Field);
        }

        RelayProvider provider = providers.For(request.Model);
        if (!provider.Speaks(endpoint))
        {
            return WrongProtocol(request.Model, provider, endpoint);
        }

        request = contexts is null ? request : request with { Conversation = ResponseContexts.ConversationOf(body.Value!) };

        span?.SetTag(HostTelemetry.Model, request.Model).SetTag(HostTelemetry.EstimateUnits, request.EstimateUnits);
        var ask = new ReserveRequest(request.EstimateUnits, request.PromptTokens + request.CompletionTokens, request.Model);
        Application.Admitted admitted = await context.RequestServices.GetRequiredService<Application.Admission>().ConfirmAsync(tokenId, ask, Reserve(runtime, tokenId, ask));
        if (admitted.Unavailable)
        {
            return OpenAiError.Result(503, "service_unavailable", Cluster.ClusterNode.UnavailableMessage);
        }

        ReserveOutcome reserved = admitted.Outcome;

        span?.SetTag(HostTelemetry.Decision, reserved.Result.ToString());
        Operations.HostMetrics.Count(context, reserved.Result);
        if (!reserved.IsOk)
        {
            return Refuse(context, runtime, tokenId, endpoint, reserved, request.Model);
        }

        UpstreamOptions options = context.RequestServices.GetRequiredService<IOptions<RelayOptions>>().Value.Upstream;
        var call = new RelayCall(context, runtime, logger, options, tokenId, request, reserved.Id, provider) { Contexts = contexts };
        return await call.RunAsync(endpoint.UpstreamPath());
    }

    /// <summary>Reserves the estimate in a <c>reserve</c> span: the decision, and for a policy's refusal its index and metric.</summary>
    private static ReserveOutcome Reserve(QuotaRuntime runtime, int tokenId, ReserveRequest request)
    {
        using Activity? span = HostTelemetry.Source.StartActivity("reserve");
        long now = runtime.NowMs;
        ReserveOutcome reserved = runtime.Engine.Reserve(tokenId, request, now);
        if (span is not null)
        {
            span.SetTag(HostTelemetry.Decision, reserved.Result.ToString());
            if (reserved.PolicyIndex >= 0 && runtime.ReadToken(tokenId, now, fresh: false) is { } view && reserved.PolicyIndex < view.Policies.Count)
            {
                span.SetTag(HostTelemetry.PolicyIndex, reserved.PolicyIndex)
                    .SetTag(HostTelemetry.PolicyMetric, PolicyNames.NameOf(PolicyNames.Metrics, view.Policies[reserved.PolicyIndex].Spec.Metric));
            }
        }

        return reserved;
    }
}
