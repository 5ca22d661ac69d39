using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Configuration;
using Quota.Host.Errors;
using Quota.Host.Operations;
using Quota.Host.Relay.Protocols;
using Quota.Host.Runtime;

namespace Quota.Host.Relay;

/// <summary>
/// One relayed request after its reservation, to its one end: settled (from the upstream's usage, or by counting
/// what it produced) or refunded — never left to expire into a charge, whatever the upstream or the client does.
/// Every failure before the response starts answers an OpenAI-style error; a stream that fails after it started
/// ends with an error event. Which upstream answers are passed on, and which become 502: docs/relay.md, "Failures".
/// Not shared between requests.
/// </summary>
internal sealed partial class RelayCall(
    HttpContext context, QuotaRuntime runtime, ILogger logger, UpstreamOptions upstream, int tokenId, RelayRequest request, ReservationId reservation,
    RelayProvider provider)
{
    /// <summary>What Anthropic's API requires when a client sends no <c>anthropic-version</c>.</summary>
    private const string AnthropicVersion = "2023-06-01";

    private readonly ProtocolReader reader = ProtocolReader.For(request.Endpoint);

    /// <summary>Upstream 4xx statuses that are about the client's request, passed on as they are.</summary>
    private static readonly HashSet<int> PassedThrough = [400, 404, 413, 422, 429];

    /// <summary>Largest upstream error body passed on, and largest JSON reply read.</summary>
    private const int ErrorBodyBytesMax = 64 * 1024;
    private const int ReplyBytesMax = 32 * 1024 * 1024;

    /// <summary>The upstream body's reader: the relay's own buffer size; the stream is disposed with the response.</summary>
    private static readonly StreamPipeReaderOptions UpstreamPipe = new(bufferSize: 16 * 1024, leaveOpen: true);

    private bool finished;
    private Activity? upstreamSpan;

    /// <summary>Remembers a Responses reply's context size (set for <c>/v1/responses</c>).</summary>
    public ResponseContexts? Contexts { get; init; }

    public async Task<IResult> RunAsync(string path)
    {
        using var deadlines = new UpstreamDeadlines(upstream, context.RequestAborted);
        await using ReservationKeepAlive keepAlive = ReservationKeepAlive.Start(runtime, reservation, logger);
        upstreamSpan = HostTelemetry.Source.StartActivity("upstream");
        try
        {
            HttpResponseMessage response;
            try
            {
                using HttpRequestMessage message = Message(path);
                response = await provider.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadlines.Token);
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
            {
                HostLog.UpstreamFailed(logger, request.Model, Reason(deadlines, exception));
                return await FailAsync("the upstream is unreachable or timed out");
            }

            using (response)
            {
                upstreamSpan?.SetTag(HostTelemetry.UpstreamStatus, (int)response.StatusCode);
                if (!response.IsSuccessStatusCode)
                {
                    return await UpstreamErrorAsync(response, deadlines);
                }

                return request.Stream ? await StreamAsync(response, deadlines) : await CompleteAsync(response, deadlines);
            }
        }
        finally
        {
            if (!finished)
            {
                // An exception no branch expected: still never leave the hold to expire into a charge.
                await RefundAsync();
            }

            EndUpstream();
        }
    }

    /// <summary>
    /// The upstream request: the forwarded body, and on /v1/messages the client's query string, <c>anthropic-version</c>
    /// and <c>anthropic-beta</c>. Nothing else of the client's request goes upstream (its relay key least of all).
    /// </summary>
    private HttpRequestMessage Message(string path)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, Upstream(context.Request, path))
        {
            Content = new ReadOnlyMemoryContent(request.Forwarded) { Headers = { ContentType = new MediaTypeHeaderValue("application/json", "utf-8") } },
        };
        if (request.Endpoint == RelayEndpoint.Messages)
        {
            AnthropicHeaders(context.Request, message);
        }

        return message;
    }

    /// <summary>The upstream path with the client's query string (Anthropic's routes: Claude Code sends <c>?beta=true</c>).</summary>
    internal static string Upstream(HttpRequest client, string path) =>
        client.QueryString.HasValue && path.StartsWith("messages", StringComparison.Ordinal) ? path + client.QueryString.Value : path;

    internal static void AnthropicHeaders(HttpRequest client, HttpRequestMessage message)
    {
        string version = client.Headers["anthropic-version"].ToString();
        message.Headers.TryAddWithoutValidation("anthropic-version", version.Length > 0 ? version : AnthropicVersion);
        foreach (string? beta in client.Headers["anthropic-beta"])
        {
            if (!string.IsNullOrEmpty(beta))
            {
                message.Headers.TryAddWithoutValidation("anthropic-beta", beta);
            }
        }
    }

    /// <summary>Ends the upstream span (before the finish, so that settle or refund is its sibling under the relay span).</summary>
    private void EndUpstream()
    {
        upstreamSpan?.Dispose();
        upstreamSpan = null;
    }

    /// <summary>The upstream answered an error status: pass it on, or hide it behind a 502 (its credentials).</summary>
    private async Task<IResult> UpstreamErrorAsync(HttpResponseMessage response, UpstreamDeadlines deadlines)
    {
        int status = (int)response.StatusCode;
        await RefundAsync();
        AddRateLimitHeaders();
        RetryHeaders.AddForUpstream(context.Response, response, runtime.NowMs); // an upstream 429's own Retry-After, bounded
        if (!PassedThrough.Contains(status))
        {
            // 401/403 are about the relay's own upstream key: the body may echo it, so it never reaches the client.
            HostLog.UpstreamStatus(logger, request.Model, status);
            return OpenAiError.Result(502, "upstream_error", status is 401 or 403
                ? "the upstream provider refused the relay's credentials; the operator has been told"
                : $"the upstream provider failed (status {status.ToString(CultureInfo.InvariantCulture)})");
        }

        string body;
        try
        {
            body = await ReadBoundedAsync(response, ErrorBodyBytesMax, deadlines.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException or InvalidDataException)
        {
            HostLog.UpstreamFailed(logger, request.Model, Reason(deadlines, exception));
            return OpenAiError.Result(502, "upstream_error", "the upstream's error response could not be read");
        }

        if (provider.ApiKey.Length > 0)
        {
            body = body.Replace(provider.ApiKey, "[redacted]", StringComparison.Ordinal);
        }

        return Results.Content(body, response.Content.Headers.ContentType?.ToString() ?? "application/json", statusCode: status);
    }

    /// <summary>Refunds and answers 502 <c>upstream_error</c> (before the response started).</summary>
    private async Task<IResult> FailAsync(string message)
    {
        await RefundAsync();
        AddRateLimitHeaders();
        return OpenAiError.Result(502, "upstream_error", message);
    }

    private async Task RefundAsync()
    {
        finished = true;
        EndUpstream();
        using Activity? span = HostTelemetry.Source.StartActivity("refund");
        FinishOutcome outcome = runtime.Engine.Refund(reservation, runtime.NowMs);
        context.RequestServices.GetRequiredService<Application.Admission>().Finished(reservation, 0, 0, refunded: true);
        span?.SetTag(HostTelemetry.FinishResult, outcome.Result.ToString());
        if (outcome.Result != FinishResult.Ok)
        {
            HostLog.FinishRefused(logger, reservation.ToString(), "refund", outcome.Result, 0);
        }

        await runtime.AcknowledgeAsync(CancellationToken.None);
    }

    /// <summary>
    /// Charges what the upstream reports (or what was counted): output above the forwarded cap is charged the cap
    /// (logged <c>upstream_usage_clamped</c>, counted in /metrics), overflow and amounts above the engine's largest
    /// are clamped and logged, an actual above the estimate is charged and logged as an overrun, and a settle the
    /// engine refuses is logged with its result — nothing is silently replaced. Returns the key read after the settle.
    /// </summary>
    private async Task<TokenView?> SettleAsync(UsageTally tally)
    {
        finished = true;
        bool counted = tally.Output is null;
        long reported = tally.Output ?? tally.ProducedTokens;
        long output = Math.Min(reported, request.CompletionTokens);
        if (output != reported)
        {
            HostLog.UsageClamped(logger, request.Model, tokenId, reported, request.CompletionTokens);
            context.RequestServices.GetRequiredService<RelayMetrics>().Clamped(request.Model);
        }

        TokenUsage usage = tally.InputKnown
            ? new(tally.Input ?? 0, tally.CacheRead ?? 0, tally.CacheWrite5m ?? 0, tally.CacheWrite1h ?? 0, output, Math.Min(tally.Reasoning ?? 0, output))
            : new(request.PromptTokens, 0, 0, 0, output, Math.Min(tally.Reasoning ?? 0, output));
        long? price = Pricing.TryCharge(request.Price, usage, request.MultiplierPerMille);
        long charged = price is { } p && p <= EngineLimits.AmountMaxUnits ? p : EngineLimits.AmountMaxUnits;
        if (charged != price)
        {
            HostLog.ChargeClamped(logger, request.Model, usage.InputAll, output, charged);
        }

        if (charged > request.EstimateUnits)
        {
            HostLog.Overrun(logger, request.Model, tokenId, request.EstimateUnits, charged, request.PromptTokens, request.CompletionTokens, usage.InputAll, output);
        }

        EndUpstream();
        using Activity? span = HostTelemetry.Source.StartActivity("settle");
        long now = runtime.NowMs;
        long tokens = Math.Min(usage.PolicyTokens(provider.Demo ? request.Endpoint.Protocol() : provider.Protocol), EngineLimits.TokensMax); // clamped like the amount
        FinishOutcome outcome = runtime.Engine.Settle(reservation, charged, tokens, now);
        if (outcome.Result == FinishResult.Ok)
        {
            context.RequestServices.GetRequiredService<Application.Admission>().Finished(reservation, outcome.ChargedUnits, tokens, refunded: false);
        }

        span?.SetTag(HostTelemetry.FinishResult, outcome.Result.ToString()).SetTag(HostTelemetry.ChargedUnits, outcome.ChargedUnits);
        if (outcome.Result != FinishResult.Ok)
        {
            HostLog.FinishRefused(logger, reservation.ToString(), "settle", outcome.Result, charged);
        }

        if (Contexts is not null && tally.ResponseId is not null && tally.InputKnown)
        {
            Contexts.Remember(tokenId, tally.ResponseId, request.Conversation, TokenUsage.Add(usage.InputAll, output));
        }

        TokenView? view = runtime.ReadToken(tokenId, now, fresh: false);
        var row = new ConsumeRow(request.Model, usage.InputAll, output, request.EstimateUnits, request.PromptTokens, request.CompletionTokens,
            outcome.Result.ToString(), counted)
        {
            Protocol = request.Endpoint.LogName(),
            Provider = provider.Name,
            CacheReadTokens = usage.CacheRead,
            CacheWrite5mTokens = usage.CacheWrite5m,
            CacheWrite1hTokens = usage.CacheWrite1h,
            ReasoningTokens = usage.Reasoning,
            ReportedCompletionTokens = output != reported ? reported : null,
            Admission = AdmissionTrace.Admitted(view, request.Model),
        };
        runtime.Persistent.Logs.Enqueue(row.ToRow(now, tokenId, view?.UserId ?? 0, outcome.Result == FinishResult.Ok ? outcome.ChargedUnits : 0));
        await runtime.AcknowledgeAsync(CancellationToken.None);
        return view;
    }

    private void AddRateLimitHeaders(TokenView? view = null)
    {
        long now = runtime.NowMs;
        if (!context.Response.HasStarted && (view ?? runtime.ReadToken(tokenId, now, fresh: false)) is { } token)
        {
            RateLimitHeaders.Add(context.Response, token, now, request.Model);
            Limits.UnifiedLimits limits = Limits.UnifiedHeaders.Of(context, token, now, request.Model);
            if (request.Endpoint == RelayEndpoint.Messages)
            {
                AnthropicShape.RateLimitHeaders(context.Response, token, now, request.Model);
                Limits.UnifiedHeaders.Write(context.Response, limits);
            }

            // every route's answer tells the alerts what it read: a window used up, a weekly window burning too fast
            context.RequestServices.GetRequiredService<Alerts.RecoveryWatch>().Notice(token);
            context.RequestServices.GetRequiredService<Alerts.BurnRateAlerts>().Notice(token, limits, now);
        }
    }

    internal static async Task<string> ReadBoundedAsync(HttpResponseMessage response, int bytesMax, CancellationToken cancellationToken)
    {
        await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > bytesMax)
            {
                throw new InvalidDataException($"the upstream's body is larger than {bytesMax} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static string Reason(UpstreamDeadlines deadlines, Exception exception) =>
        deadlines.Stop == UpstreamStop.None ? exception.Message : deadlines.Stop.ToString();
}
