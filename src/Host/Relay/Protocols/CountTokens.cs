using System.Globalization;
using System.Net.Http.Headers;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// <c>POST /v1/messages/count_tokens</c>: forwarded to the model's Anthropic provider and answered as it came, not
/// charged — but only for a valid key, and with the provider's key redacted from an error body; a provider's 401/403
/// (about the relay's own key) and 5xx become 502 without the body, as on the charged routes.
/// </summary>
internal static class CountTokens
{
    private const int BodyBytesMax = 64 * 1024;

    public static async Task<IResult> ForwardAsync(HttpContext context, QuotaRuntime runtime, Pricing pricing, RelayProviders providers, ILogger logger)
    {
        if (RelayEndpoints.Authenticate(context, runtime, anthropic: true) is not { } tokenId ||
            runtime.ReadToken(tokenId, runtime.NowMs, fresh: false) is not { } view || view.OperatorStatus == Engine.Model.TokenStatus.Disabled || view.Expired)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        StrictJson.Outcome body = await StrictJson.ReadObjectAsync(context.Request);
        if (!body.IsOk)
        {
            return OpenAiError.BadBody(body.Status, body.Field, body.Error!);
        }

        if (body.Value!["model"] is not System.Text.Json.Nodes.JsonValue value || !value.TryGetValue(out string? model) || model.Length == 0)
        {
            return OpenAiError.InvalidRequest("model: is required: a string naming the model", "model");
        }

        if (model.Length > pricing.ModelNameLengthMax || pricing.Find(model) is null)
        {
            return OpenAiError.Result(404, "model_not_found", $"no price is configured for model '{(model.Length <= 64 ? model : model[..64] + "…")}'", "model");
        }

        RelayProvider provider = providers.For(model);
        if (!provider.Speaks(RelayEndpoint.Messages))
        {
            return RelayEndpoints.WrongProtocol(model, provider, RelayEndpoint.Messages);
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, RelayCall.Upstream(context.Request, "messages/count_tokens"))
        {
            Content = new ReadOnlyMemoryContent(body.Bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/json", "utf-8") } },
        };
        RelayCall.AnthropicHeaders(context.Request, message);
        Configuration.UpstreamOptions options = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.RelayOptions>>().Value.Upstream;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            using HttpResponseMessage response = await provider.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            int status = (int)response.StatusCode;
            if (status is 401 or 403 or >= 500 || (status >= 300 && status < 400))
            {
                HostLog.UpstreamStatus(logger, model, status);
                return OpenAiError.Result(502, "upstream_error", status is 401 or 403
                    ? "the upstream provider refused the relay's credentials; the operator has been told"
                    : $"the upstream provider failed (status {status.ToString(CultureInfo.InvariantCulture)})");
            }

            string text = await RelayCall.ReadBoundedAsync(response, BodyBytesMax, timeout.Token);
            if (provider.ApiKey.Length > 0)
            {
                text = text.Replace(provider.ApiKey, "[redacted]", StringComparison.Ordinal);
            }

            return Results.Content(text, response.Content.Headers.ContentType?.ToString() ?? "application/json", statusCode: status);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException or InvalidDataException)
        {
            HostLog.UpstreamFailed(logger, model, exception is OperationCanceledException ? "timed out" : exception.Message);
            return OpenAiError.Result(502, "upstream_error", "the upstream is unreachable or timed out");
        }
    }
}
