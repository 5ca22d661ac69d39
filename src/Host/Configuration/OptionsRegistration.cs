using Microsoft.Extensions.Options;
using Quota.Engine.Hosting;
using Quota.Host.Errors;

namespace Quota.Host.Configuration;

/// <summary>Binds and validates configuration at start: bad configuration stops the host with a clear message.</summary>
public static class OptionsRegistration
{
    public static IServiceCollection AddHostOptions(this IServiceCollection services, IConfiguration configuration)
    {
        // The engine's settings of this section are validated by AddQuotaEngine (HostRegistration), with the engine's own rules.
        services.AddOptions<QuotaOptions>().Bind(configuration.GetSection("Quota"))
            .Validate(o => o.AdminKey.Length == 0 || o.AdminKeyFile.Length == 0, "Quota:AdminKey and Quota:AdminKeyFile are both set: set one")
            .Validate(o => o.AdminKey.Length == 0 || AdminKeyRule.Weakness(o.AdminKey) is null,
                $"Quota:AdminKey is refused: it must be at least {AdminKeyRule.LengthMin} characters with at least {AdminKeyRule.DistinctCharactersMin} different ones, " +
                $"and not a placeholder such as change-me or 0123456789 (docs/operations.md \"Admin key\"); {AdminKeyRule.Advice}")
            .ValidateOnStart();
        services.AddOptions<ConsoleOptions>().Bind(configuration.GetSection("Console"))
            .Validate(o => o.SessionIdleMinutes is >= 1 and <= 10_080, "Console:SessionIdleMinutes must be 1 … 10080")
            .Validate(o => o.SessionLifetimeHours is >= 1 and <= 720, "Console:SessionLifetimeHours must be 1 … 720")
            .ValidateOnStart();
        services.AddOptions<SecurityOptions>().Bind(configuration.GetSection("Security"))
            .Validate(o => o.FailedAuthLimit is >= 1 and <= 10_000, "Security:FailedAuthLimit must be 1 … 10000")
            .Validate(o => o.FailedAuthWindowSeconds is >= 1 and <= 60, "Security:FailedAuthWindowSeconds must be 1 … 60")
            .ValidateOnStart();
        services.AddOptions<ProxyOptions>().Bind(configuration.GetSection("Proxy"))
            .Validate(o => o.KnownProxies.All(p => System.Net.IPAddress.TryParse(p, out _)), "Proxy:KnownProxies must be IP addresses, e.g. 10.0.0.5")
            .Validate(o => o.KnownNetworks.All(n => System.Net.IPNetwork.TryParse(n, out _)), "Proxy:KnownNetworks must be networks in CIDR notation, e.g. 10.0.0.0/24")
            .ValidateOnStart();
        services.AddOptions<LimitsOptions>().Bind(configuration.GetSection("Limits"))
            .Validate(o => o.ConnectionsMax == 0 || (o.ConnectionsMax >= Runtime.ConnectionLimits.ConnectionsMin && o.ConnectionsMax <= (Runtime.ConnectionLimits.DescriptorLimit() ?? int.MaxValue)),
                $"Limits:ConnectionsMax must be 0 (derived from the descriptor limit) or {Runtime.ConnectionLimits.ConnectionsMin} … the process's descriptor limit (ulimit -n: {Runtime.ConnectionLimits.DescriptorLimit()?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"})")
            .Validate(o => o.KeepAliveTimeoutSeconds is >= 1 and <= 3600, "Limits:KeepAliveTimeoutSeconds must be 1 … 3600")
            .Validate(o => o.RequestHeadersTimeoutSeconds is >= 1 and <= 600, "Limits:RequestHeadersTimeoutSeconds must be 1 … 600")
            .ValidateOnStart();
        services.AddOptions<Cluster.ClusterOptions>().Bind(configuration.GetSection("Cluster"))
            .Validate(o => !o.IsEnabled || System.Text.RegularExpressions.Regex.IsMatch(o.NodeId, "^[A-Za-z0-9_.-]{1,64}$"),
                "Cluster:NodeId must be 1 … 64 letters, digits, '.', '_' or '-' when Cluster:Store is set")
            .Validate(o => o.LeaseSeconds is >= 2 and <= 3600, "Cluster:LeaseSeconds must be 2 … 3600")
            .Validate(o => o.ReportIntervalMs is >= 10 and <= 10_000, "Cluster:ReportIntervalMs must be 10 … 10000")
            .Validate(o => o.PollIntervalMs is >= 100 and <= 60_000, "Cluster:PollIntervalMs must be 100 … 60000")
            .Validate(o => o.LeaseDemandMs is >= 1 and <= 60_000, "Cluster:LeaseDemandMs must be 1 … 60000")
            .Validate(o => o.KeyPrefix.Length is >= 1 and <= 64, "Cluster:KeyPrefix must be 1 … 64 characters")
            .Validate(o => o.FailOpenUnits >= 0, "Cluster:FailOpenUnits must be 0 (off: fail closed) or more")
            .ValidateOnStart();
        services.AddOptions<RelayOptions>().Bind(configuration.GetSection("Relay"))
            .Validate(o => o.Upstream.BaseUrl.Length == 0 || Uri.TryCreate(o.Upstream.BaseUrl, UriKind.Absolute, out _), "Relay:Upstream:BaseUrl must be an absolute URL")
            .Validate(o => o.Upstream.TimeoutSeconds is >= 1 and <= 3600, "Relay:Upstream:TimeoutSeconds must be 1 … 3600")
            .Validate(o => o.Upstream.IdleTimeoutSeconds is >= 1 and <= 3600, "Relay:Upstream:IdleTimeoutSeconds must be 1 … 3600")
            .Validate(o => o.Upstream.UsageGraceSeconds is >= 0 and <= 60, "Relay:Upstream:UsageGraceSeconds must be 0 … 60")
            .Validate(o => o.RetryAfterMaxSeconds >= 0 && o.RetryAfterMaxSeconds <= QuotaRefusal.RetryAfterMaxLimit.TotalSeconds,
                $"Relay:RetryAfterMaxSeconds must be 0 … {QuotaRefusal.RetryAfterMaxLimit.TotalSeconds}")
            .Validate(o => o.UnifiedWarnAt is > 0 and <= 1, "Relay:UnifiedWarnAt must be a fraction above 0 and at most 1")
            .Validate(o => o.Responses.UnknownContextTokens is >= 0 and <= 10_000_000, "Relay:Responses:UnknownContextTokens must be 0 … 10000000")
            .Validate(o => o.Responses.RememberedMax is >= 0 and <= 10_000_000, "Relay:Responses:RememberedMax must be 0 … 10000000")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RelayOptions>, Relay.Protocols.ProviderValidation>();
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection("Telemetry"))
            .Validate(o => o.Otlp.Endpoint.Length == 0 || IsHttpUrl(o.Otlp.Endpoint), "Telemetry:Otlp:Endpoint must be an absolute http(s) URL (or empty: no export)")
            .Validate(o => o.Otlp.Protocol is "grpc" or "http/protobuf", "Telemetry:Otlp:Protocol must be grpc or http/protobuf")
            .ValidateOnStart();
        services.AddOptions<HealthOptions>().Bind(configuration.GetSection("Health"))
            .Validate(o => o.RingDepthMax >= 1, "Health:RingDepthMax must be at least 1")
            .ValidateOnStart();
        services.AddOptions<LogsOptions>().Bind(configuration.GetSection("Logs"))
            .Validate(o => o.RetentionDays is >= 0 and <= 36_500, "Logs:RetentionDays must be 0 (keep every row) … 36500")
            .Validate(o => o.PruneIntervalMinutes is >= 1 and <= 1440, "Logs:PruneIntervalMinutes must be 1 … 1440")
            .ValidateOnStart();
        services.AddOptions<AlertsOptions>().Bind(configuration.GetSection("Alerts"))
            .PostConfigure(o =>
            {
                if (o.Thresholds.Count == 0)
                {
                    o.Thresholds.AddRange(AlertsOptions.DefaultThresholds);
                }
            })
            .Validate(o => o.Thresholds.Count <= Engine.EngineLimits.AlertThresholdsMax && o.Thresholds.All(p => p is >= 1 and <= 100) &&
                o.Thresholds.Zip(o.Thresholds.Skip(1)).All(pair => pair.First < pair.Second), "Alerts:Thresholds must be ascending percentages, each 1 … 100, at most 4")
            .Validate(o => o.Webhooks.Values.All(w => IsHttpUrl(w.Url)), "Alerts:Webhooks:<name>:Url must be an absolute http(s) URL")
            .Validate(o => o.Webhooks.Values.All(w => w.Secret.Length >= 16), "Alerts:Webhooks:<name>:Secret must be at least 16 characters")
            .Validate(o => o.AllowLinkLocal || !o.Webhooks.Values.Any(w => Alerts.WebhookTransport.NamesLinkLocal(w.Url)),
                "Alerts:Webhooks:<name>:Url must not be a link-local address (a cloud metadata service) unless Alerts:AllowLinkLocal is true")
            .Validate(o => o.RetryBaseMs is >= 1 and <= 3_600_000, "Alerts:RetryBaseMs must be 1 … 3600000")
            .Validate(o => o.RetryMaxSeconds is >= 1 and <= 86_400, "Alerts:RetryMaxSeconds must be 1 … 86400")
            .Validate(o => o.AttemptsMax is >= 1 and <= 10_000, "Alerts:AttemptsMax must be 1 … 10000")
            .Validate(o => o.PollMs is >= 10 and <= 60_000, "Alerts:PollMs must be 10 … 60000")
            .ValidateOnStart();
        services.AddOptions<PricingOptions>().Bind(configuration.GetSection("Pricing"))
            .PostConfigure(o =>
            {
                if (o.Models.Count == 0)
                {
                    foreach ((string model, ModelPrice price) in PricingOptions.DefaultModels)
                    {
                        o.Models[model] = price;
                    }
                }
            })
            .Validate(o => o.DefaultMaxTokens is >= 1 and <= 1_000_000, "Pricing:DefaultMaxTokens must be 1 … 1000000")
            .Validate(o => o.Models.Values.All(p => p.InputPerMillion >= 0 && p.OutputPerMillion >= 0 && p.PerCall >= 0), "Pricing:Models prices must not be negative")
            .Validate(o => o.Models.Values.All(p => p.InputPerMillion <= ModelPriceMax && p.OutputPerMillion <= ModelPriceMax && p.PerCall <= ModelPriceMax), "Pricing:Models prices must not exceed 2^40 units")
            .Validate(o => o.Models.Values.All(p => Relay.TokenCounter.Encodings.Contains(p.Tokenizer)), $"Pricing:Models:<model>:Tokenizer must be one of {string.Join(", ", Relay.TokenCounter.Encodings)}")
            .Validate(o => o.Models.Values.All(p => p.ImageTokens is >= 0 and <= 1_000_000), "Pricing:Models:<model>:ImageTokens must be 0 … 1000000")
            .Validate(o => o.Models.Values.All(p => new[] { p.CacheReadPerMillion, p.CacheWritePerMillion, p.CacheWrite1hPerMillion, p.ReasoningPerMillion }.All(k => k is null or (>= 0 and <= ModelPriceMax))),
                "Pricing:Models:<model>:CacheReadPerMillion, CacheWritePerMillion, CacheWrite1hPerMillion and ReasoningPerMillion must be 0 … 2^40 units")
            .Validate(o => o.Models.Values.All(p => p.PromptSafetyPerMille is null or (>= 1000 and <= 10_000)), "Pricing:Models:<model>:PromptSafetyPerMille must be 1000 … 10000")
            .Validate(o => o.Groups.Values.All(g => g.MultiplierPerMille is >= 0 and <= 1_000_000), "Pricing:Groups:<group>:MultiplierPerMille must be 0 … 1000000")
            .ValidateOnStart();
        return services;
    }

    public static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private const long ModelPriceMax = Engine.EngineLimits.AmountMaxUnits;
}
