using Quota.Engine.Persistence;

namespace Quota.Host.Configuration;

/// <summary>The <c>Quota</c> section (API.md "Starting it").</summary>
public sealed class QuotaOptions
{
    public string DataDir { get; set; } = "./data";
    /// <summary>Bearer key of the admin and quota APIs; empty: generated on first start and stored in the data dir.</summary>
    public string AdminKey { get; set; } = "";
    public Durability Durability { get; set; } = Durability.WriteBehind;
    public int CommitIntervalMs { get; set; } = 5;
    public int ReservationTtlSeconds { get; set; } = 600;
    public int KeysMax { get; set; } = 1 << 20;
    public int UsersMax { get; set; } = 1 << 18;
    public int ReservationsMax { get; set; } = 1 << 18;
    public int CheckpointIntervalSeconds { get; set; } = 300;
}

/// <summary>The <c>Relay</c> section: the OpenAI-compatible upstream.</summary>
public sealed class RelayOptions
{
    public UpstreamOptions Upstream { get; set; } = new();

    /// <summary>
    /// The longest wait a 429 announces in <c>Retry-After</c>; a key that recovers later gets <c>x-should-retry: false</c>
    /// instead, because standard SDKs sleep for the whole <c>Retry-After</c> before retrying (README, "Retry-After").
    /// </summary>
    public int RetryAfterMaxSeconds { get; set; } = 60;
}

public sealed class UpstreamOptions
{
    /// <summary>e.g. http://127.0.0.1:9000/v1; empty: the built-in demo upstream.</summary>
    public string BaseUrl { get; set; } = "";
    public string ApiKey { get; set; } = "";
    public int TimeoutSeconds { get; set; } = 300;
}

/// <summary>The <c>Pricing</c> section: quota units per 1M tokens, or per call.</summary>
public sealed class PricingOptions
{
    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.Ordinal);
    public int DefaultMaxTokens { get; set; } = 1024;

    /// <summary>The table used when the configuration names no model (500,000 units = 1 USD).</summary>
    public static readonly IReadOnlyDictionary<string, ModelPrice> DefaultModels = new Dictionary<string, ModelPrice>(StringComparer.Ordinal)
    {
        ["gpt-4o-mini"] = new() { InputPerMillion = 75_000, OutputPerMillion = 300_000 },
        ["gpt-4o"] = new() { InputPerMillion = 1_250_000, OutputPerMillion = 5_000_000 },
        ["text-embedding-3-small"] = new() { InputPerMillion = 10_000 },
        ["demo-per-call"] = new() { PerCall = 15 },
    };
}

public sealed class ModelPrice
{
    public long InputPerMillion { get; set; }
    public long OutputPerMillion { get; set; }
    public long PerCall { get; set; }
}
