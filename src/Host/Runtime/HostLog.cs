using Quota.Engine.Persistence;

namespace Quota.Host.Runtime;

/// <summary>The host's log messages (source-generated: no formatting cost when a level is off).</summary>
internal static partial class HostLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Log rows cannot be written (the batch is retried, then dropped and counted)")]
    public static partial void LogRowsFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Key {TokenId} was created in the engine but its label never stored (a crash between the two stores); deleted, since its secret was never handed out")]
    public static partial void UnlabelledKeyDeleted(ILogger logger, int tokenId);

    [LoggerMessage(Level = LogLevel.Error, Message = "The key index could not be built; key listings fail until a restart")]
    public static partial void KeyIndexFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Key label {TokenId} has no key in the engine (its create was lost by a write-behind crash); label removed")]
    public static partial void OrphanLabelRemoved(ILogger logger, int tokenId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Generated the admin key and wrote it to {Path} (read it there; it is never logged)")]
    public static partial void AdminKeyGenerated(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin key read from {Path}")]
    public static partial void AdminKeyRead(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin key taken from the configuration (Quota:AdminKey)")]
    public static partial void AdminKeyConfigured(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay:Upstream:BaseUrl is empty: using the built-in demo upstream (deterministic fake completions)")]
    public static partial void DemoUpstream(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream call failed for model {Model}: {Error}")]
    public static partial void UpstreamFailed(ILogger logger, string model, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream answered status {Status} for model {Model}; the client gets 502 (its body is not passed on)")]
    public static partial void UpstreamStatus(ILogger logger, string model, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream answered model {Model} with {What}; refunded, the client gets 502")]
    public static partial void UpstreamInvalid(ILogger logger, string model, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream of model {Model} ended early: {Reason}; what it produced is settled (refunded if nothing)")]
    public static partial void StreamFailed(ILogger logger, string model, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The engine refused to {Verb} reservation {Reservation} ({Result}; amount {AmountUnits})")]
    public static partial void FinishRefused(ILogger logger, string reservation, string verb, global::Quota.Engine.Model.FinishResult result, long amountUnits);

    [LoggerMessage(Level = LogLevel.Error, Message = "Usage of model {Model} ({PromptTokens} prompt + {CompletionTokens} completion tokens) prices above the largest amount; charged {ChargedUnits} units")]
    public static partial void ChargeClamped(ILogger logger, string model, long promptTokens, long completionTokens, long chargedUnits);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Overrun on key {TokenId}, model {Model}: estimate {EstimateUnits} units ({EstimatePrompt} + {EstimateCompletion} tokens), actual {ActualUnits} units ({ActualPrompt} + {ActualCompletion} tokens); charged the actual")]
    public static partial void Overrun(ILogger logger, string model, int tokenId, long estimateUnits, long actualUnits, long estimatePrompt, long estimateCompletion, long actualPrompt, long actualCompletion);

    [LoggerMessage(Level = LogLevel.Error, Message = "Keeping reservation {Reservation} alive failed: {Result}")]
    public static partial void KeepAliveFailed(ILogger logger, string reservation, string result);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The operator ended every console session ({Sessions}) from {Address}")]
    public static partial void SignedOutEverywhere(ILogger logger, int sessions, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Console sign-in with a wrong admin key from {Address}")]
    public static partial void SignInFailed(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Too many failed authentications from {Address}: its requests are refused (429) for {Seconds} s")]
    public static partial void AddressThrottled(ILogger logger, string address, int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Accepting at most {ConnectionsMax} client connections (descriptor limit {DescriptorLimit}; Limits:ConnectionsMax)")]
    public static partial void ConnectionsMax(ILogger logger, int connectionsMax, string descriptorLimit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The data directory {DataDir} is open to other users (mode {Mode}); it holds the admin key, every key's hash and the usage log: chmod -R go= it")]
    public static partial void DataDirectoryNotPrivate(ILogger logger, string dataDir, string mode);
}
