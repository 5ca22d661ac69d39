using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Quota.Engine;
using Quota.Engine.Hosting;
using Quota.Engine.Persistence;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The generic-host door: <c>services.AddQuotaEngine(configuration.GetSection("Quota"))</c>.</summary>
public static class QuotaEngineServiceCollectionExtensions
{
    /// <summary>
    /// Registers the persistent engine: <see cref="QuotaEngineOptions"/> bound from <paramref name="configuration"/> and
    /// validated when the host starts (a bad value stops the start with an error naming it); <see cref="QuotaEngineHost"/>,
    /// <see cref="PersistentEngine"/> and <see cref="QuotaEngine"/> as singletons; the engine opened and recovered by a hosted
    /// service at start and committed and snapshotted at stop; the <see cref="QuotaEngineHealthCheck"/> (<c>quota_engine</c>);
    /// the <see cref="QuotaEngineMetrics"/> meter, added to OpenTelemetry's meter provider if the application uses one. The
    /// clock is the application's <see cref="TimeProvider"/> (the system clock unless one is registered).
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configuration">The section to bind, e.g. <c>configuration.GetSection("Quota")</c>.</param>
    /// <param name="configure">Adds an audit sink, a log device or alert thresholds at open (optional).</param>
    public static IServiceCollection AddQuotaEngine(this IServiceCollection services, IConfiguration configuration,
        Action<IServiceProvider, QuotaEngineOpening>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(descriptor => descriptor.ServiceType == typeof(QuotaEngineHost)))
        {
            throw new InvalidOperationException("AddQuotaEngine was called twice: an application has one engine (one data directory)");
        }

        string sectionPath = configuration is IConfigurationSection section ? section.Path : "Quota";
        services.AddOptions<QuotaEngineOptions>().Bind(configuration).ValidateOnStart();
        services.AddSingleton<IValidateOptions<QuotaEngineOptions>>(new QuotaEngineOptionsValidator(sectionPath));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(provider =>
        {
            var opening = new QuotaEngineOpening();
            configure?.Invoke(provider, opening);
            return new QuotaEngineHost(provider.GetRequiredService<IOptions<QuotaEngineOptions>>(), provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILogger<QuotaEngineHost>>(), opening);
        });
        services.AddSingleton(provider => provider.GetRequiredService<QuotaEngineHost>().Persistent);
        services.AddSingleton(provider => provider.GetRequiredService<QuotaEngineHost>().Engine);
        services.AddHostedService<QuotaEngineLifetime>();
        services.AddHealthChecks().AddCheck<QuotaEngineHealthCheck>(QuotaEngineHealthCheck.Name);
        services.AddMetrics();
        services.TryAddSingleton<QuotaEngineMetrics>();
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter(QuotaEngineMetrics.MeterName));
        return services;
    }
}
