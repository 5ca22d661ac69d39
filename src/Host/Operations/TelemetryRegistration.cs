using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Quota.Host.Configuration;

namespace Quota.Host.Operations;

/// <summary>Metrics (Prometheus at /metrics), traces and health checks; OTLP export of both only when configured.</summary>
public static class TelemetryRegistration
{
    public static IServiceCollection AddQuotaTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        OtlpOptions otlp = configuration.GetSection("Telemetry").Get<TelemetryOptions>()?.Otlp ?? new OtlpOptions();
        bool export = otlp.Endpoint.Length > 0 && OptionsRegistration.IsHttpUrl(otlp.Endpoint); // an invalid one stops the start (options validation)
        OpenTelemetry.OpenTelemetryBuilder telemetry = services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(HostMetrics.MeterName).AddPrometheusExporter();
            if (export)
            {
                metrics.AddOtlpExporter(o => Configure(o, otlp, "v1/metrics"));
            }
        });
        if (export)
        {
            // The HTTP server span (ASP.NET Core instrumentation) is the relay span's parent: with the default parent-based
            // sampler, a request span the provider did not sample would drop the relay's spans with it.
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/healthz"))
                .AddSource(HostTelemetry.SourceName)
                .AddOtlpExporter(o => Configure(o, otlp, "v1/traces")));
        }

        services.AddSingleton(provider => provider.GetRequiredService<Runtime.QuotaRuntime>().Persistent.Logs);
        services.AddHealthChecks() // and "quota_engine", registered by AddQuotaEngine
            .AddCheck<RingDepthHealthCheck>("delta_log_ring")
            .AddCheck<LogRowsHealthCheck>("log_rows");
        return services;
    }

    /// <summary>gRPC takes the collector's address; http/protobuf a full path per signal (the exporter uses a set endpoint as is).</summary>
    private static void Configure(OtlpExporterOptions options, OtlpOptions otlp, string signalPath)
    {
        bool http = otlp.Protocol == "http/protobuf";
        options.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        options.Endpoint = http ? new Uri(otlp.Endpoint.TrimEnd('/') + "/" + signalPath) : new Uri(otlp.Endpoint);
    }
}
