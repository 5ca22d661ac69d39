using Quota.Engine.Tests.Persistence;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Quota.Engine.Persistence;
using Quota.Host.Operations;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Operations;

/// <summary>/healthz through the health checks: its JSON contract, a faulting log device, a failing log-row writer.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Healthz_Is503_WhileTheLogDeviceFaults_And200AgainWhenItHeals()
    {
        using var data = new TempDirectory();
        FaultyDeltaLog? log = null;
        await using HostUnderTest host = await HostUnderTest.StartConfiguredAsync(data.Path, null,
            services => services.AddSingleton<DeltaLogOpener>(directory => log = new FaultyDeltaLog(new FasterDeltaLog(directory))));
        (HttpStatusCode status, JsonElement body) = await HealthAsync(host);
        Assert.Equal((HttpStatusCode.OK, "ok"), (status, body.GetProperty("status").GetString()));

        log!.FailCommits = true;
        await host.CreateUserAsync(); // an append the failing device must commit
        (status, body) = await UntilAsync(host, s => s == HttpStatusCode.ServiceUnavailable);
        Assert.Equal("unhealthy", body.GetProperty("status").GetString());
        Assert.Contains("engine: ", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("injected", body.GetProperty("error").GetString(), StringComparison.Ordinal);

        log.FailCommits = false;
        (status, body) = await UntilAsync(host, s => s == HttpStatusCode.OK);
        Assert.Equal("ok", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task LogRowsCheck_IsDegraded_WhileTheStoreRefusesRows()
    {
        var store = new RefusingStore();
        await using var writer = new SystemLogWriter(store, retryPause: TimeSpan.FromMilliseconds(1));
        var check = new LogRowsHealthCheck(writer);
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);

        writer.Enqueue(new LogDocument { Kind = LogKind.Consume, TokenId = 1 });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (writer.Fault is null)
        {
            await Task.Delay(5, deadline.Token);
        }

        HealthCheckResult result = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("log rows cannot be written", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInvalidOtlpEndpoint_StopsTheStart_NamingTheSetting()
    {
        using var data = new TempDirectory();
        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => HostUnderTest.StartConfiguredAsync(data.Path, null, configure: null, "--Telemetry:Otlp:Endpoint=not a url"));
        Assert.Contains("Telemetry:Otlp:Endpoint", error.Message, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode, JsonElement)> HealthAsync(HostUnderTest host)
    {
        using HttpResponseMessage response = await host.Client.GetAsync("/healthz");
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static async Task<(HttpStatusCode, JsonElement)> UntilAsync(HostUnderTest host, Func<HttpStatusCode, bool> wanted)
    {
        for (int attempt = 0; ; attempt++)
        {
            (HttpStatusCode status, JsonElement body) = await HealthAsync(host);
            if (wanted(status) || attempt == 400)
            {
                return (status, body);
            }

            await Task.Delay(25);
        }
    }

    private sealed class RefusingStore : ILogRowStore
    {
        public void AppendLogs(IReadOnlyCollection<LogDocument> rows) => throw new IOException("injected: the store refused the batch");
    }
}
