using Quota.Engine.AI;

namespace Microsoft.Extensions.AI;

/// <summary>The Microsoft.Extensions.AI door: <c>chatClient.AsBuilder().UseQuota(…)</c>, <c>generator.AsBuilder().UseQuota(…)</c>.</summary>
public static class QuotaBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="QuotaChatClient"/> to the pipeline: every call is reserved, settled from its usage or refunded, and a
    /// refusal throws <see cref="QuotaExceededException"/>. The engine is <see cref="QuotaAIOptions.Engine"/>, or the one
    /// <c>AddQuotaEngine</c> registered in the builder's services.
    /// </summary>
    public static ChatClientBuilder UseQuota(this ChatClientBuilder builder, Action<QuotaChatOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        QuotaChatOptions options = Configured(configure);
        if (options.DefaultMaxOutputTokens is < 1 or > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.DefaultMaxOutputTokens, "DefaultMaxOutputTokens must be 1 … 1000000");
        }

        return builder.Use((inner, services) => new QuotaChatClient(inner, QuotaGate.For(options, services), options));
    }

    /// <summary>Adds <see cref="QuotaEmbeddingGenerator{TInput, TEmbedding}"/> to the pipeline (the same rules as the chat middleware).</summary>
    public static EmbeddingGeneratorBuilder<TInput, TEmbedding> UseQuota<TInput, TEmbedding>(
        this EmbeddingGeneratorBuilder<TInput, TEmbedding> builder, Action<QuotaEmbeddingOptions<TInput>> configure)
        where TEmbedding : Embedding
    {
        ArgumentNullException.ThrowIfNull(builder);
        QuotaEmbeddingOptions<TInput> options = Configured(configure);
        return builder.Use((inner, services) => new QuotaEmbeddingGenerator<TInput, TEmbedding>(inner, QuotaGate.For(options, services), options));
    }

    private static T Configured<T>(Action<T> configure)
        where T : QuotaAIOptions, new()
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new T();
        configure(options);
        return options.Prices is null ? throw new ArgumentException("Prices must be set", nameof(configure))
            : !options.HasKeyResolver ? throw new ArgumentException("KeyResolver must map a call to an engine key id", nameof(configure))
            : options;
    }
}
