using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Quota.Engine;
using Quota.Engine.Hosting;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Host.Tests.Support;

namespace Quota.Integrations.Tests.Hosting;

/// <summary>The generic-host door: services.AddQuotaEngine(configuration.GetSection("Quota")) in a worker-style host.</summary>
public sealed class GenericHostTests : IDisposable
{
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    private IHost Build(TimeProvider? time = null, params (string Key, string Value)[] settings)
    {
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        var configuration = new Dictionary<string, string?> { ["Quota:DataDir"] = data.Path, ["Quota:KeysMax"] = "64", ["Quota:UsersMax"] = "64", ["Quota:ReservationsMax"] = "1024" };
        foreach ((string key, string value) in settings)
        {
            configuration[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        builder.Services.AddQuotaEngine(builder.Configuration.GetSection("Quota"));
        return builder.Build();
    }

    [Theory]
    [InlineData("Quota:ReservationsMax", "100", "Quota:ReservationsMax must be a power of two")]
    [InlineData("Quota:KeysMax", "0", "Quota:KeysMax must be 1")]
    [InlineData("Quota:ReservationTtlSeconds", "0", "Quota:ReservationTtlSeconds must be 1")]
    [InlineData("Quota:CommitIntervalMs", "20000", "Quota:CommitIntervalMs must be 1")]
    [InlineData("Quota:DataDir", " ", "Quota:DataDir")]
    public async Task ABadOption_StopsTheStart_NamingIt(string key, string value, string expected)
    {
        using IHost host = Build(settings: (key, value));
        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.False(host.Services.GetRequiredService<QuotaEngineHost>().IsOpen);
    }

    [Fact]
    public async Task AStopThenAStart_RecoversTheBooks()
    {
        int user, key;
        using (IHost first = Build())
        {
            await first.StartAsync();
            QuotaEngine engine = first.Services.GetRequiredService<QuotaEngine>();
            user = engine.CreateUser(1_000).Id;
            key = engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 500, Policies = [Support.Books.Daily(100)] }, engine.NowMs).Id;
            ReserveOutcome settled = engine.Reserve(key, 40, engine.NowMs);
            engine.Settle(settled.Id, 45, engine.NowMs);
            ReserveOutcome open = engine.Reserve(key, 10, engine.NowMs); // still open at stop: recovered open
            Assert.True(open.IsOk);
            await first.StopAsync();
            Assert.False(first.Services.GetRequiredService<QuotaEngineHost>().IsOpen);
        }

        using IHost second = Build();
        await second.StartAsync();
        QuotaEngine recovered = second.Services.GetRequiredService<QuotaEngine>();
        Assert.Equal(new UserView(user, 955, 45, 10), recovered.ReadUser(user));
        TokenView view = recovered.ReadToken(key, recovered.NowMs)!;
        Assert.Equal(45, view.Policies[0].UsedQuotaUnits);
        Assert.Equal(10, view.Policies[0].ReservedQuotaUnits);
        RecoveryReport recovery = second.Services.GetRequiredService<PersistentEngine>().Recovery;
        Assert.Equal(0, recovery.SnapshotSequence); // a clean stop commits a short log and takes no snapshot (docs/operations.md)
        Assert.True(recovery.RecordsReplayed >= 5, $"{recovery.RecordsReplayed} records replayed"); // user, key, reserve, settle, reserve
        await second.StopAsync();
    }

    [Fact]
    public async Task TheEngine_RunsOnTheApplicationsClock_AndReportsHealthy()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        using IHost host = Build(time);
        await host.StartAsync();
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), host.Services.GetRequiredService<QuotaEngine>().NowMs);
        Assert.Same(time, host.Services.GetRequiredService<QuotaEngineHost>().Time);

        HealthReport health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Entries[QuotaEngineHealthCheck.Name].Status);
        await host.StopAsync();
        health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, health.Entries[QuotaEngineHealthCheck.Name].Status);
    }

    [Fact]
    public async Task TheMeter_ReportsHealthAndDecisions()
    {
        using IHost host = Build();
        await host.StartAsync();
        var seen = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == QuotaEngineMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => seen[instrument.Name] = value);
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => seen[instrument.Name] = seen.GetValueOrDefault(instrument.Name) + value);
        listener.Start();
        host.Services.GetRequiredService<QuotaEngineMetrics>().RecordDecision(ReserveResult.PolicyExhausted);
        listener.RecordObservableInstruments();
        Assert.Equal(1, seen["quota.engine.healthy"]);
        Assert.Equal(1, seen["quota.engine.decisions"]);
        await host.StopAsync();
    }

    [Fact]
    public void AddQuotaEngine_Twice_IsRefused()
    {
        var services = new ServiceCollection();
        IConfigurationSection section = new ConfigurationBuilder().Build().GetSection("Quota");
        services.AddQuotaEngine(section);
        Assert.Throws<InvalidOperationException>(() => services.AddQuotaEngine(section));
    }
}
