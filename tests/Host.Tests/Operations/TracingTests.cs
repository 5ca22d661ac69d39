using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Quota.Host.Operations;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Operations;

/// <summary>The relay's spans (ActivitySource Quota.Host), recorded by a listener, and exported over OTLP when configured.</summary>
public sealed class TracingTests
{
    private static readonly object[] Hello = [new { role = "user", content = "hi" }];

    [Fact]
    public async Task ARelayedRequest_IsARelaySpan_WithReserveUpstreamAndSettleChildren()
    {
        using var spans = new SpanRecorder();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000 });

        using (HttpResponseMessage response = await host.ChatAsync(key, new { model = "demo-per-call", messages = Hello }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await response.Content.ReadAsStringAsync();
        }

        Activity relay = await spans.RelayOfAsync(token);
        Activity[] children = spans.ChildrenOf(relay);
        Assert.Equal(["reserve", "upstream", "settle"], children.Select(c => c.OperationName));
        Assert.Equal(("Ok", "demo-per-call"), (relay.GetTagItem(HostTelemetry.Decision), relay.GetTagItem(HostTelemetry.Model)));
        Assert.Equal("Ok", children[0].GetTagItem(HostTelemetry.Decision));
        Assert.Equal(200, children[1].GetTagItem(HostTelemetry.UpstreamStatus));
        Assert.Equal(("Ok", 15L), (children[2].GetTagItem(HostTelemetry.FinishResult), children[2].GetTagItem(HostTelemetry.ChargedUnits)));
        Assert.All(children, c => Assert.Equal(relay.TraceId, c.TraceId));
    }

    [Fact]
    public async Task ARefusedRequest_ReserveSpanNamesTheRefusingPolicyAndItsMetric_AndNothingIsCalled()
    {
        using var spans = new SpanRecorder();
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);
        (int token, string key) = await host.CreateTokenAsync(new
        {
            user_id = await host.CreateUserAsync(), remain_quota = 10_000,
            quota_policies = new object[] { new { period_mode = "daily", quota = 1_000 }, new { period_mode = "daily", quota = 1, metric = "requests" } },
        });
        (await host.ChatAsync(key, new { model = "demo-per-call", messages = Hello })).Dispose();
        using (HttpResponseMessage refused = await host.ChatAsync(key, new { model = "demo-per-call", messages = Hello }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        Activity relay = await spans.RelayOfAsync(token, decision: "PolicyExhausted");
        Activity reserve = Assert.Single(spans.ChildrenOf(relay));
        Assert.Equal(("reserve", "PolicyExhausted", 1, "requests"),
            (reserve.OperationName, reserve.GetTagItem(HostTelemetry.Decision), reserve.GetTagItem(HostTelemetry.PolicyIndex), reserve.GetTagItem(HostTelemetry.PolicyMetric)));
    }

    [Fact]
    public async Task WithAnOtlpEndpoint_TheSpansAreExported()
    {
        await using LoopbackReceiver collector = await LoopbackReceiver.StartAsync();
        using var data = new TempDirectory();
        HostUnderTest host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null, time: null,
            $"--Telemetry:Otlp:Endpoint={collector.BaseUrl}", "--Telemetry:Otlp:Protocol=http/protobuf");
        await using (host)
        {
            (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000 });
            (await host.ChatAsync(key, new { model = "demo-per-call", messages = Hello })).Dispose();
        } // stopping the host flushes the exporter

        LoopbackReceiver.Received[] traces = collector.Accepted.Where(r => r.Path == "/v1/traces").ToArray();
        Assert.NotEmpty(traces);
        string text = Encoding.UTF8.GetString(traces.SelectMany(t => t.Body).ToArray());
        Assert.Contains(HostTelemetry.SourceName, text, StringComparison.Ordinal);
        Assert.Contains("upstream", text, StringComparison.Ordinal);
        Assert.Equal("application/x-protobuf", traces[0].Headers["Content-Type"]);
    }

    /// <summary>Records every stopped span of the host's source (tests run one at a time: the listener is process-wide).</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ConcurrentQueue<Activity> stopped = new();
        private readonly ActivityListener listener;

        public SpanRecorder()
        {
            listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == HostTelemetry.SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(listener);
        }

        public async Task<Activity> RelayOfAsync(int token, string decision = "Ok")
        {
            for (int attempt = 0; attempt < 400; attempt++)
            {
                if (stopped.FirstOrDefault(a => a.OperationName == "relay" && Equals(a.GetTagItem(HostTelemetry.TokenId), token) &&
                        Equals(a.GetTagItem(HostTelemetry.Decision), decision)) is { } relay)
                {
                    return relay;
                }

                await Task.Delay(25);
            }

            throw new Xunit.Sdk.XunitException($"no relay span of key {token} with decision {decision}");
        }

        public Activity[] ChildrenOf(Activity parent) =>
            stopped.Where(a => a.ParentSpanId == parent.SpanId && a.TraceId == parent.TraceId).OrderBy(a => a.StartTimeUtc).ToArray();

        public void Dispose() => listener.Dispose();
    }
}
