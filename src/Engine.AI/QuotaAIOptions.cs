using Microsoft.Extensions.AI;

namespace Quota.Engine.AI;

/// <summary>What the chat and embedding middleware share: the engine, its clock and the price table.</summary>
public abstract class QuotaAIOptions
{
    /// <summary>The engine to charge; null: the application's (registered by <c>AddQuotaEngine</c>, taken from the builder's services).</summary>
    public QuotaEngine? Engine { get; set; }

    /// <summary>The engine's clock; null: the application's (<c>QuotaEngineHost.Time</c>), or the system clock with an explicit engine.</summary>
    public TimeProvider? Time { get; set; }

    /// <summary>What each model costs. Required: a model without a price (and no <see cref="QuotaPriceTable.Default"/>) throws.</summary>
    public QuotaPriceTable Prices { get; set; } = new();

    internal abstract bool HasKeyResolver { get; }
}

/// <summary>How <see cref="QuotaChatClient"/> charges chat calls.</summary>
public sealed class QuotaChatOptions : QuotaAIOptions
{
    /// <summary>The engine key a call is charged to (e.g. the signed-in user's, or one carried in <see cref="ChatOptions.AdditionalProperties"/>). Required.</summary>
    public Func<ChatOptions?, int>? KeyResolver { get; set; }

    internal override bool HasKeyResolver => KeyResolver is not null;

    /// <summary>
    /// Estimates a call's input tokens, for the reservation and when the reply reports no usage; null: the simple estimate,
    /// one token per four characters of the messages' text (rounded up), plus one per message.
    /// </summary>
    public Func<IEnumerable<ChatMessage>, ChatOptions?, long>? InputTokenEstimator { get; set; }

    /// <summary>The output tokens reserved when the call sets no <see cref="ChatOptions.MaxOutputTokens"/>, 1 … 1,000,000.</summary>
    public int DefaultMaxOutputTokens { get; set; } = 1024;
}

/// <summary>How <see cref="QuotaEmbeddingGenerator{TInput, TEmbedding}"/> charges embedding calls.</summary>
/// <typeparam name="TInput">What is embedded.</typeparam>
public sealed class QuotaEmbeddingOptions<TInput> : QuotaAIOptions
{
    /// <summary>The engine key a call is charged to. Required.</summary>
    public Func<EmbeddingGenerationOptions?, int>? KeyResolver { get; set; }

    internal override bool HasKeyResolver => KeyResolver is not null;

    /// <summary>
    /// Estimates a call's input tokens, for the reservation and when the reply reports no usage; null: for strings, one token
    /// per four characters (rounded up), plus one per value; other inputs need an estimator.
    /// </summary>
    public Func<IEnumerable<TInput>, long>? InputTokenEstimator { get; set; }
}
