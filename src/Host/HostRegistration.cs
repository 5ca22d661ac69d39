using Microsoft.Extensions.Options;
using Quota.Host.Admin;
using Quota.Host.Application;
using Quota.Host.Cluster;
using Quota.Host.Configuration;
using Quota.Host.ConsoleUi;
using Quota.Host.Limits;
using Quota.Host.Operations;
using Quota.Host.Quota;
using Quota.Host.Relay;
using Quota.Host.Runtime;

namespace Quota.Host;

/// <summary>Service registrations and the route table, so that Program.cs reads as a table of contents.</summary>
public static class HostRegistration
{
    /// <summary>The largest request body Kestrel reads (413 above it): a relay prompt of 4 MiB is well past any model's context.</summary>
    public const long BodyBytesMax = 4 * 1024 * 1024;

    public static IServiceCollection AddQuotaHost(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddHostOptions(configuration);
        services.AddSingleton(TimeProvider.System);
        // The engine is wired as every embedder wires it (Quota.Engine.Hosting): opened at start, committed and snapshotted
        // at stop — after the hosted services registered below have stopped.
        services.AddSingleton<AdminCredential>();
        services.AddQuotaEngine(configuration.GetSection("Quota"), static (provider, opening) =>
        {
            _ = provider.GetRequiredService<AdminCredential>(); // first: a refused admin key stops the start before the engine's files open
            opening.Audit = provider.GetRequiredService<Alerts.AlertSink>();
            opening.AlertThresholdsPercent = provider.GetRequiredService<IOptions<Configuration.AlertsOptions>>().Value.Thresholds;
            opening.OpenLog = provider.GetService<DeltaLogOpener>() is { } open ? directory => open(directory) : null;
        });
        services.AddSingleton<QuotaRuntime>();
        services.AddHostedService<RequestIdJanitor>();
        services.AddHostedService<KeyIndexBuilder>(); // after start, in the background: no label scan delays serving
        services.AddSingleton<Admin.LogRetention>();
        services.AddHostedService(provider => provider.GetRequiredService<Admin.LogRetention>());
        bool cluster = configuration["Cluster:Store"] is { Length: > 0 };
        services.AddQuotaApplication(cluster); // the one choice between one host and a cluster node above the engine
        if (cluster)
        {
            services.AddSingleton<Cluster.ClusterNode>(); // stops before the runtime: its last report and lease give-back come first
            services.AddHostedService(provider => provider.GetRequiredService<Cluster.ClusterNode>());
            services.AddExceptionHandler<Cluster.StoreUnavailableHandler>();
        }

        services.AddSingleton<KeyStatusChanges>();
        services.AddSingleton<Alerts.RecoveryWatch>();
        services.AddSingleton<Alerts.BurnRateAlerts>();
        services.AddSingleton<Alerts.AlertSink>();
        services.AddSingleton<Alerts.AlertDispatcher>();
        services.AddHostedService(provider => provider.GetRequiredService<Alerts.AlertDispatcher>()); // stops before the runtime closes the store
        services.AddHttpClient(Alerts.AlertDispatcher.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(provider => Alerts.WebhookTransport.Create(provider.GetRequiredService<IOptions<Configuration.AlertsOptions>>().Value.AllowLinkLocal));
        services.AddSingleton<Pricing>();
        services.AddSingleton(provider => new TokenCounter(provider.GetRequiredService<IOptions<PricingOptions>>().Value.Models.Values.Select(m => m.Tokenizer)));
        services.AddSingleton<HostMetrics>();
        services.AddSingleton<FailedAuthThrottle>();
        services.AddSingleton<GatewayKeys>();
        services.AddProxyForwarding();
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddQuotaConsole();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        services.AddConnectionLimits();
        services.AddQuotaTelemetry(configuration);
        services.AddSingleton<RelayUpstream>();
        services.AddSingleton<Relay.Protocols.RelayProviders>();
        services.AddSingleton<Relay.Protocols.ResponseContexts>();
        services.AddSingleton<Relay.Protocols.RelayMetrics>();
        return services;
    }

    public static WebApplication MapQuotaHost(this WebApplication app)
    {
        app.UseProxyForwarding(); // first: everything after sees the client's address and scheme (docs/operations.md "Behind a proxy")
        app.UseExceptionHandler();
        app.UseStatusCodePages(Errors.EmptyErrors.WriteAsync); // a 4xx/5xx without a body (415, 405, 404) still explains itself
        app.UseFailedAuthThrottle(); // a throttled address is refused before any handler reads its request
        app.MapQuotaConsole(); // the operator's console and the key holder's page (/, /me); only for non-API paths
        _ = app.Services.GetRequiredService<HostMetrics>(); // instruments exist from the start, not from the first scrape
        _ = app.Services.GetRequiredService<TokenCounter>(); // tokenizers load at start, not on the first request
        app.MapGroup("/api/users").RequireAdminKey().MapUsers();
        app.MapGroup("/api/tokens").RequireAdminKey().MapTokens();
        app.MapGroup("/api/logs").RequireAdminKey().MapLogs();
        app.MapGroup("/api/gateway_keys").RequireAdminKey().MapGatewayKeys();
        if (app.Configuration["Cluster:Store"] is { Length: > 0 })
        {
            app.MapGroup("/api/cluster").RequireAdminKey().MapCluster(); // docs/cluster.md "Store data loss"
        }

        app.MapGroup("/api/quota").MapQuota(); // checks the admin or a gateway key in its handlers (the hot path: no endpoint filter)
        app.MapGroup("/v1").MapRelay();
        app.MapUsage(); // GET /api/oauth/usage: the relay key's own windows, for status lines
        app.MapOperations();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapOpenApi("/openapi/{documentName}.json");
        ConnectionLimits.LogAtStart(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Quota.Host"), app.Services.GetRequiredService<IOptions<Configuration.LimitsOptions>>().Value);
        if (app.Services.GetRequiredService<IOptions<RelayOptions>>().Value.Upstream.BaseUrl.Length == 0)
        {
            HostLog.DemoUpstream(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Relay"));
        }

        return app;
    }
}
