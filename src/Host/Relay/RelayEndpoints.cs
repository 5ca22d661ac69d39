using System.Text;
using System.Text.Json.Nodes;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Admin;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>
/// The OpenAI-compatible relay (API.md): authenticate → price the estimate → reserve → forward → settle from the
/// upstream's usage → respond; refund when the upstream fails. Streams are passed through line by line (never
/// buffered whole); a client that disconnects mid-stream is charged for what was streamed.
/// </summary>
public static class RelayEndpoints
{
    public const string UpstreamClient = "upstream";

    public static RouteGroupBuilder MapRelay(this RouteGroupBuilder group)
    {
        group.MapPost("/chat/completions", (HttpContext context, QuotaRuntime runtime, Pricing pricing, IHttpClientFactory clients, ILoggerFactory logs) =>
            RelayAsync(context, runtime, pricing, clients.CreateClient(UpstreamClient), logs.CreateLogger("Relay"), "chat/completions"));
        group.MapPost("/embeddings", (HttpContext context, QuotaRuntime runtime, Pricing pricing, IHttpClientFactory clients, ILoggerFactory logs) =>
            RelayAsync(context, runtime, pricing, clients.CreateClient(UpstreamClient), logs.CreateLogger("Relay"), "embeddings"));
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

    private static async Task<IResult> RelayAsync(HttpContext context, QuotaRuntime runtime, Pricing pricing, HttpClient upstream, ILogger logger, string path)
    {
        if (Authenticate(context, runtime) is not { } tokenId)
        {
            return OpenAiError.Result(401, "invalid_api_key", "invalid API key");
        }

        JsonObject? request;
        try
        {
            request = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            request = null;
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return OpenAiError.Result(413, "request_too_large", "the request body is larger than the limit");
        }

        if (request?["model"] is not JsonValue modelValue || !modelValue.TryGetValue(out string? model))
        {
            return OpenAiError.InvalidRequest("a JSON body with a string 'model' is required", "model");
        }

        if (!pricing.Knows(model))
        {
            return OpenAiError.Result(404, "model_not_found", $"no price is configured for model '{model}'", "model");
        }

        (long promptTokens, long completionTokens) = pricing.Estimate(request);
        long estimate;
        try
        {
            estimate = Math.Max(1, pricing.Price(model, promptTokens, completionTokens));
        }
        catch (OverflowException)
        {
            return OpenAiError.InvalidRequest("the request's token counts are too large to price", "max_tokens");
        }

        ReserveOutcome reserved = runtime.Engine.Reserve(tokenId, estimate, runtime.NowMs);
        Operations.HostMetrics.Count(context, reserved.Result);
        if (!reserved.IsOk)
        {
            return Rejection.Respond(context, runtime, tokenId, reserved);
        }

        var call = new RelayCall(context, runtime, pricing, tokenId, model, reserved.Id, promptTokens);
        bool stream = request["stream"] is JsonValue s && s.TryGetValue(out bool streaming) && streaming;
        if (stream)
        {
            request["stream_options"] = new JsonObject { ["include_usage"] = true };
        }

        HttpResponseMessage response;
        try
        {
            var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json") };
            response = await upstream.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or OperationCanceledException)
        {
            await call.RefundAsync();
            HostLog.UpstreamFailed(logger, model, exception.Message);
            return OpenAiError.Result(502, "upstream_error", "the upstream is unreachable or timed out");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                await call.RefundAsync();
                call.AddRateLimitHeaders();
                RetryHeaders.AddForUpstream(context.Response, response, runtime.NowMs);
                string error = await response.Content.ReadAsStringAsync(context.RequestAborted);
                return Results.Content(error, response.Content.Headers.ContentType?.ToString() ?? "application/json", statusCode: (int)response.StatusCode);
            }

            return stream ? await call.StreamAsync(response) : await call.CompleteAsync(response);
        }
    }

    /// <summary>One relayed request after its reservation: settle, refund, headers, the consume log row.</summary>
    private sealed class RelayCall(HttpContext context, QuotaRuntime runtime, Pricing pricing, int tokenId, string model, ReservationId reservation, long promptEstimate)
    {
        public async Task RefundAsync()
        {
            runtime.Engine.Refund(reservation, runtime.NowMs);
            await runtime.AcknowledgeAsync(CancellationToken.None);
        }

        public void AddRateLimitHeaders()
        {
            if (runtime.Engine.ReadToken(tokenId, runtime.NowMs) is { } view)
            {
                RateLimitHeaders.Add(context.Response, view, runtime.NowMs);
            }
        }

        public async Task<IResult> CompleteAsync(HttpResponseMessage response)
        {
            string body = await response.Content.ReadAsStringAsync(context.RequestAborted);
            JsonNode? usage = (JsonNode.Parse(body) as JsonObject)?["usage"];
            long prompt = Tokens(usage?["prompt_tokens"]) ?? promptEstimate;
            long completion = Tokens(usage?["completion_tokens"]) ?? 0;
            await SettleAsync(prompt, completion, addHeaders: true);
            return Results.Content(body, response.Content.Headers.ContentType?.ToString() ?? "application/json");
        }

        public async Task<IResult> StreamAsync(HttpResponseMessage response)
        {
            AddRateLimitHeaders();
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            long? promptUsage = null, completionUsage = null, streamedCharacters = 0;
            try
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(context.RequestAborted));
                while (await reader.ReadLineAsync(context.RequestAborted) is { } line)
                {
                    await context.Response.WriteAsync(line + "\n", context.RequestAborted);
                    if (line.Length == 0)
                    {
                        await context.Response.Body.FlushAsync(context.RequestAborted);
                        continue;
                    }

                    if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]" || JsonNode.Parse(line[6..]) is not JsonObject chunk)
                    {
                        continue;
                    }

                    if (chunk["usage"] is JsonObject usage)
                    {
                        promptUsage = Tokens(usage["prompt_tokens"]);
                        completionUsage = Tokens(usage["completion_tokens"]);
                    }

                    if (chunk["choices"] is JsonArray choices)
                    {
                        streamedCharacters += choices.Sum(c => Pricing.TextLength(c?["delta"]?["content"]));
                    }
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException)
            {
                // the client went away (or the upstream broke off): charge what was streamed
            }

            await SettleAsync(promptUsage ?? promptEstimate, completionUsage ?? ((streamedCharacters!.Value + 3) / 4), addHeaders: false);
            return Results.Empty;
        }

        /// <summary>Settles, logs the consume row and (before the body is written) sets the headers, reading the key once.</summary>
        private async Task SettleAsync(long prompt, long completion, bool addHeaders)
        {
            long charged = pricing.Price(model, prompt, completion);
            long now = runtime.NowMs;
            runtime.Engine.Settle(reservation, charged, now);
            TokenView? view = runtime.Engine.ReadToken(tokenId, now);
            if (addHeaders && view is not null)
            {
                RateLimitHeaders.Add(context.Response, view, now);
            }

            runtime.Persistent.Logs.Enqueue(new LogDocument
            {
                CreatedMs = runtime.NowMs,
                Type = "consume",
                TokenId = tokenId,
                UserId = view?.UserId ?? 0,
                Action = "relay",
                Content = $"{model}: {prompt} prompt + {completion} completion tokens",
                Model = model,
                PromptTokens = prompt,
                CompletionTokens = completion,
                QuotaUnits = charged,
            });
            await runtime.AcknowledgeAsync(CancellationToken.None);
        }

        private static long? Tokens(JsonNode? node) => node is JsonValue value && value.TryGetValue(out long tokens) && tokens >= 0 ? tokens : null;
    }
}
