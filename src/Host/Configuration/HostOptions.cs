namespace Quota.Host.Configuration;

/// <summary>
/// The host's own settings of the <c>Quota</c> section (docs/operations.md "Configuration"). The engine's settings of the
/// same section (DataDir, Durability, CommitIntervalMs, ReservationTtlSeconds, KeysMax, UsersMax, ReservationsMax,
/// CheckpointIntervalSeconds) are bound and validated by <c>AddQuotaEngine</c> (Quota.Engine.Hosting's QuotaEngineOptions).
/// </summary>
public sealed class QuotaOptions
{
    /// <summary>The data directory (the engine's, see above): the admin key and the console's keys are kept in it too.</summary>
    public string DataDir { get; set; } = "./data";
    /// <summary>Bearer key of the admin and quota APIs (<see cref="AdminKeyRule"/>); empty: <see cref="AdminKeyFile"/>, else generated on first start and stored in the data dir.</summary>
    public string AdminKey { get; set; } = "";
    /// <summary>A file holding the admin key (a mounted secret); read at start, its path logged, never its content.</summary>
    public string AdminKeyFile { get; set; } = "";
}

/// <summary>The <c>Console</c> section: how long a console session lasts (docs/operations.md "Console sessions").</summary>
public sealed class ConsoleOptions
{
    /// <summary>A session not used for this long ends (the operator's and the key holder's page alike).</summary>
    public int SessionIdleMinutes { get; set; } = 60;
    /// <summary>A session ends this long after sign-in however busy it is: the operator signs in again.</summary>
    public int SessionLifetimeHours { get; set; } = 12;
}

/// <summary>The <c>Security</c> section: the throttle on failed authentication (docs/operations.md "Failed authentication").</summary>
public sealed class SecurityOptions
{
    /// <summary>Failed authentications one client address may make per window; the next requests from it get 429 until the window ends.</summary>
    public int FailedAuthLimit { get; set; } = 20;
    /// <summary>The window, at most a minute: a throttled address's right key works again within it.</summary>
    public int FailedAuthWindowSeconds { get; set; } = 60;
}

/// <summary>
/// The <c>Proxy</c> section: the reverse proxies (TLS terminators, load balancers) whose <c>X-Forwarded-For</c> and
/// <c>X-Forwarded-Proto</c> the host believes (docs/operations.md "Behind a proxy"). Empty: none, the headers are ignored.
/// </summary>
public sealed class ProxyOptions
{
    /// <summary>Addresses of the proxies, e.g. 10.0.0.5 or ::1.</summary>
    public List<string> KnownProxies { get; set; } = [];
    /// <summary>Networks of the proxies in CIDR notation, e.g. 10.0.0.0/24.</summary>
    public List<string> KnownNetworks { get; set; } = [];
}

/// <summary>The <c>Limits</c> section: what clients can hold of the host (docs/operations.md "Limits").</summary>
public sealed class LimitsOptions
{
    /// <summary>Client connections open at once; more are closed at accept. 0: derived from the process's descriptor limit.</summary>
    public int ConnectionsMax { get; set; }
    /// <summary>How long a connection may wait for its next request (or its first) before it is closed.</summary>
    public int KeepAliveTimeoutSeconds { get; set; } = 130;
    /// <summary>How long a client may take to send a request's headers once it started.</summary>
    public int RequestHeadersTimeoutSeconds { get; set; } = 30;
}

/// <summary>The <c>Relay</c> section: the OpenAI-compatible upstream.</summary>
public sealed class RelayOptions
{
    public UpstreamOptions Upstream { get; set; } = new();

    /// <summary>Named providers (docs/relay.md "Providers"); a model no provider lists goes to <see cref="Upstream"/>.</summary>
    public Dictionary<string, ProviderOptions> Providers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>What <c>/v1/responses</c> remembers of earlier responses (docs/relay.md "Responses").</summary>
    public ResponsesOptions Responses { get; set; } = new();

    /// <summary>
    /// The longest wait a 429 announces in <c>Retry-After</c>; a key that recovers later gets <c>x-should-retry: false</c>
    /// instead, because standard SDKs sleep for the whole <c>Retry-After</c> before retrying (README, "Retry-After").
    /// </summary>
    public int RetryAfterMaxSeconds { get; set; } = (int)global::Quota.Engine.Hosting.QuotaRefusal.DefaultRetryAfterMax.TotalSeconds;

    /// <summary>
    /// The share of a key's 5-hour or 7-day window used (0 … 1) at which <c>/v1/messages</c> answers
    /// <c>anthropic-ratelimit-unified-status: allowed_warning</c> (docs/relay.md "Unified limits").
    /// </summary>
    public double UnifiedWarnAt { get; set; } = Limits.UnifiedLimits.DefaultWarnAt;
}

public sealed class UpstreamOptions
{
    /// <summary>e.g. http://127.0.0.1:9000/v1; empty: the built-in demo upstream.</summary>
    public string BaseUrl { get; set; } = "";
    public string ApiKey { get; set; } = "";
    /// <summary>Longest a whole upstream call may take, stream included.</summary>
    public int TimeoutSeconds { get; set; } = 300;
    /// <summary>Longest silence allowed between two reads of the upstream's body (a stalled stream ends here).</summary>
    public int IdleTimeoutSeconds { get; set; } = 60;
    /// <summary>How long the relay keeps reading the upstream for its usage after the client left.</summary>
    public int UsageGraceSeconds { get; set; } = 5;
}

/// <summary>One provider: the protocol it speaks, where, with which key, for which models.</summary>
public sealed class ProviderOptions
{
    /// <summary><c>openai</c> or <c>anthropic</c>.</summary>
    public string Protocol { get; set; } = "";
    /// <summary>The API root including <c>/v1</c>, e.g. https://api.anthropic.com/v1.</summary>
    public string BaseUrl { get; set; } = "";
    /// <summary>Sent as <c>Authorization: Bearer …</c> (openai) or <c>x-api-key</c> (anthropic); never to a client or a log.</summary>
    public string ApiKey { get; set; } = "";
    /// <summary>Model ids, or <c>prefix*</c> patterns.</summary>
    public List<string> Models { get; set; } = [];
}

public sealed class ResponsesOptions
{
    /// <summary>Context tokens reserved for a <c>previous_response_id</c> or <c>conversation</c> the relay has not seen.</summary>
    public int UnknownContextTokens { get; set; } = 32_768;
    /// <summary>How many response ids (with their context size) are remembered; the oldest are forgotten first.</summary>
    public int RememberedMax { get; set; } = 100_000;
}

/// <summary>The <c>Pricing</c> section: quota units per 1M tokens, or per call.</summary>
public sealed class PricingOptions
{
    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.Ordinal);
    public int DefaultMaxTokens { get; set; } = 1024;
    /// <summary>Price groups: a user's group multiplies its charges (<c>default</c> for every user without one).</summary>
    public Dictionary<string, PriceGroup> Groups { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The table used when the configuration names no model (500,000 units = 1 USD).</summary>
    public static readonly IReadOnlyDictionary<string, ModelPrice> DefaultModels = new Dictionary<string, ModelPrice>(StringComparer.Ordinal)
    {
        ["gpt-4o-mini"] = new() { InputPerMillion = 75_000, OutputPerMillion = 300_000 },
        ["gpt-4o"] = new() { InputPerMillion = 1_250_000, OutputPerMillion = 5_000_000 },
        ["text-embedding-3-small"] = new() { InputPerMillion = 10_000, Tokenizer = "cl100k_base" },
        ["demo-per-call"] = new() { PerCall = 15 },
    };
}

public sealed class PriceGroup
{
    /// <summary>Charges of the group's users, in thousandths (1000: as priced; 500: half).</summary>
    public long MultiplierPerMille { get; set; } = 1000;
}

public sealed class ModelPrice
{
    /// <summary>Uncached input tokens.</summary>
    public long InputPerMillion { get; set; }
    /// <summary>Output tokens that are not reasoning.</summary>
    public long OutputPerMillion { get; set; }
    public long PerCall { get; set; }
    /// <summary>Cached input read (absent: <see cref="InputPerMillion"/>).</summary>
    public long? CacheReadPerMillion { get; set; }
    /// <summary>Anthropic 5-minute cache writes (absent: <see cref="InputPerMillion"/>).</summary>
    public long? CacheWritePerMillion { get; set; }
    /// <summary>Anthropic 1-hour cache writes (absent: the 5-minute price).</summary>
    public long? CacheWrite1hPerMillion { get; set; }
    /// <summary>Reasoning tokens, part of the output count (absent: <see cref="OutputPerMillion"/>).</summary>
    public long? ReasoningPerMillion { get; set; }
    /// <summary>
    /// The counted prompt is multiplied by this (in thousandths) to bound a provider whose tokenizer is not public;
    /// absent: 1000 on the OpenAI routes, <see cref="Relay.Protocols.MessagesRequest.DefaultSafetyPerMille"/> on /v1/messages (docs/relay.md).
    /// </summary>
    public int? PromptSafetyPerMille { get; set; }
    /// <summary>The tokenizer that counts this model's prompts (see <see cref="Relay.TokenCounter.Encodings"/>).</summary>
    public string Tokenizer { get; set; } = Relay.TokenCounter.DefaultEncoding;
    /// <summary>Tokens counted for each image part of a prompt.</summary>
    public long ImageTokens { get; set; } = 1000;
    /// <summary>Also write the completion cap as <c>max_tokens</c> (false for models that refuse that field).</summary>
    public bool SendMaxTokens { get; set; } = true;
}

/// <summary>The <c>Telemetry</c> section: where traces and metrics are also pushed (off unless an endpoint is set).</summary>
public sealed class TelemetryOptions
{
    public OtlpOptions Otlp { get; set; } = new();
}

public sealed class OtlpOptions
{
    /// <summary>The OTLP collector, e.g. http://127.0.0.1:4317 (grpc) or http://127.0.0.1:4318 (http/protobuf); empty: no export.</summary>
    public string Endpoint { get; set; } = "";
    /// <summary><c>grpc</c> or <c>http/protobuf</c>.</summary>
    public string Protocol { get; set; } = "grpc";
}

/// <summary>The <c>Health</c> section: the bounds behind /healthz.</summary>
public sealed class HealthOptions
{
    /// <summary>Delta records appended but not yet in the log above which the host reports itself degraded (the pump is behind).</summary>
    public int RingDepthMax { get; set; } = 65_536;
}

/// <summary>The <c>Logs</c> section: how long the owner-visible log keeps its rows (docs/operations.md "Log retention").</summary>
public sealed class LogsOptions
{
    /// <summary>Rows older than this many days are deleted in the background; 0 (the default) keeps every row.</summary>
    public int RetentionDays { get; set; }
    /// <summary>How often the pruning looks for old rows.</summary>
    public int PruneIntervalMinutes { get; set; } = 10;
}

/// <summary>The <c>Alerts</c> section: budget alert thresholds and the webhooks they are delivered to (docs/alerts.md).</summary>
public sealed class AlertsOptions
{
    /// <summary>The thresholds used when the configuration names none.</summary>
    public static readonly int[] DefaultThresholds = [80, 100];

    /// <summary>Percent of a policy's quota, and of a wallet's balance at its last top-up; ascending, 1 … 100, at most 4.</summary>
    public List<int> Thresholds { get; set; } = [];
    public Dictionary<string, WebhookOptions> Webhooks { get; set; } = new(StringComparer.Ordinal);
    /// <summary>The first retry waits this long; each next one twice as long, up to <see cref="RetryMaxSeconds"/>.</summary>
    public int RetryBaseMs { get; set; } = 1000;
    public int RetryMaxSeconds { get; set; } = 600;
    /// <summary>Tries per delivery before it is given up (logged, counted); at the defaults ≈ 16 hours of retries.</summary>
    public int AttemptsMax { get; set; } = 100;
    /// <summary>How often the outbox is looked at for due deliveries.</summary>
    public int PollMs { get; set; } = 250;
    /// <summary>Deliver to link-local addresses too (169.254.0.0/16, fe80::/10, fd00:ec2::254: where clouds serve instance metadata).</summary>
    public bool AllowLinkLocal { get; set; }
}

public sealed class WebhookOptions
{
    public string Url { get; set; } = "";
    /// <summary>The shared secret of the <c>X-Quota-Signature</c> HMAC-SHA256 (of the delivery's time and body).</summary>
    public string Secret { get; set; } = "";
}
