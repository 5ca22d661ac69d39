using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Quota.Engine.Model;
using Quota.Host.Errors;

namespace Quota.Host.Relay.Protocols;

/// <summary>Anthropic's error body: <c>{ "type": "error", "error": { "type", "message", "code" } }</c> (our code kept).</summary>
public sealed record AnthropicErrorBody(string Type, AnthropicErrorDetail Error);

public sealed record AnthropicErrorDetail(string Type, string Message, string Code);

/// <summary>
/// /v1/messages answers in Anthropic's own shapes: its error object (same statuses and codes as the OpenAI routes) and
/// its <c>anthropic-ratelimit-requests-*</c> / <c>-tokens-*</c> headers in place of OpenAI's <c>x-ratelimit-*</c>.
/// </summary>
public static class AnthropicShape
{
    public static JsonHttpResult<AnthropicErrorBody> Error(int status, string code, string message) =>
        TypedResults.Json(new AnthropicErrorBody("error", new AnthropicErrorDetail(TypeOf(status), message, code)), statusCode: status);

    /// <summary>An OpenAI-shaped error result in Anthropic's shape; any other result as it is.</summary>
    public static IResult Convert(IResult result) =>
        result is JsonHttpResult<OpenAiErrorBody> { Value: { } body } json ? Error(json.StatusCode ?? 500, body.Error.Code, body.Error.Message) : result;

    private static string TypeOf(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };

    /// <summary>
    /// Replaces <c>x-ratelimit-*</c> with <c>anthropic-ratelimit-requests-limit|remaining|reset</c> and the
    /// <c>-tokens-</c> trio, from the tightest <c>requests</c> and <c>tokens</c> policies that apply to the model
    /// (reset in RFC 3339). The IETF <c>RateLimit</c> headers stay.
    /// </summary>
    public static void RateLimitHeaders(HttpResponse response, TokenView token, long nowMs, string? model, int refusedBy = -1)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(token);
        foreach (string name in (ReadOnlySpan<string>)["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                     "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"])
        {
            response.Headers.Remove(name);
        }

        PolicyView? requests = null, tokens = null;
        foreach (PolicyView policy in token.Policies)
        {
            if (!Admin.PolicyNames.Limits(policy.Spec) || (policy.Index != refusedBy && !policy.Spec.AppliesTo(model)))
            {
                continue;
            }

            if (policy.Spec.Metric == PolicyMetric.Requests)
            {
                requests = Errors.RateLimitHeaders.Tighter(requests, policy);
            }
            else if (policy.Spec.Metric == PolicyMetric.Tokens)
            {
                tokens = Errors.RateLimitHeaders.Tighter(tokens, policy);
            }
        }

        Write(response, "requests", requests);
        Write(response, "tokens", tokens);
    }

    private static void Write(HttpResponse response, string kind, PolicyView? policy)
    {
        if (policy is null)
        {
            return;
        }

        response.Headers["anthropic-ratelimit-" + kind + "-limit"] = policy.Spec.QuotaUnits.ToString(CultureInfo.InvariantCulture);
        response.Headers["anthropic-ratelimit-" + kind + "-remaining"] = policy.RemainingUnits.ToString(CultureInfo.InvariantCulture);
        response.Headers["anthropic-ratelimit-" + kind + "-reset"] =
            DateTimeOffset.FromUnixTimeMilliseconds(policy.PeriodEndMs).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }
}
