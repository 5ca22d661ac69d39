using Microsoft.Extensions.AI;
using Quota.Engine.Model;

namespace Quota.Engine.AI;

/// <summary>
/// Embedding middleware that charges each call to an engine key: reserves the input estimate
/// (<see cref="QuotaEmbeddingOptions{TInput}.InputTokenEstimator"/>) at the model's input price, settles at the reported
/// <see cref="GeneratedEmbeddings{TEmbedding}.Usage"/> (the estimate when none is reported), refunds on an exception or a
/// cancellation; a refusal throws <see cref="QuotaExceededException"/> and the model is not called. Thread-safe.
/// </summary>
/// <typeparam name="TInput">What is embedded.</typeparam>
/// <typeparam name="TEmbedding">The embedding type.</typeparam>
public sealed class QuotaEmbeddingGenerator<TInput, TEmbedding> : DelegatingEmbeddingGenerator<TInput, TEmbedding>
    where TEmbedding : Embedding
{
    private readonly QuotaGate gate;
    private readonly QuotaEmbeddingOptions<TInput> options;
    private readonly string? defaultModel;

    internal QuotaEmbeddingGenerator(IEmbeddingGenerator<TInput, TEmbedding> innerGenerator, QuotaGate gate, QuotaEmbeddingOptions<TInput> options)
        : base(innerGenerator)
    {
        if (options.InputTokenEstimator is null && typeof(TInput) != typeof(string))
        {
            throw new ArgumentException($"InputTokenEstimator is required to estimate inputs of type {typeof(TInput).Name}", nameof(options));
        }

        this.gate = gate;
        this.options = options;
        defaultModel = innerGenerator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId;
    }

    /// <inheritdoc/>
    public override async Task<GeneratedEmbeddings<TEmbedding>> GenerateAsync(IEnumerable<TInput> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<TInput> inputs = [.. values];
        int key = this.options.KeyResolver!(options);
        string? model = options?.ModelId ?? defaultModel;
        QuotaModelPrice price = this.options.Prices.Find(model);
        long estimate = this.options.InputTokenEstimator?.Invoke(inputs) ?? SimpleEstimate(inputs);
        ReservationId id = gate.Reserve(key, PriceOrMax(price, estimate), estimate, model);
        GeneratedEmbeddings<TEmbedding> embeddings;
        try
        {
            embeddings = await base.GenerateAsync(inputs, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            gate.Refund(id);
            throw;
        }

        long used = embeddings.Usage?.InputTokenCount ?? estimate;
        gate.Settle(id, PriceOrMax(price, used), used);
        return embeddings;
    }

    private static long PriceOrMax(QuotaModelPrice price, long inputTokens)
    {
        try
        {
            return price.Price(inputTokens, 0);
        }
        catch (OverflowException)
        {
            return EngineLimits.AmountMaxUnits;
        }
    }

    private static long SimpleEstimate(IReadOnlyList<TInput> inputs)
    {
        long characters = 0;
        foreach (TInput input in inputs)
        {
            characters += (input as string)?.Length ?? 0;
        }

        return QuotaGate.TokensOfText(characters) + inputs.Count;
    }
}
