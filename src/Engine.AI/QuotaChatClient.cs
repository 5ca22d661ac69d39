using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Quota.Engine.Model;

namespace Quota.Engine.AI;

/// <summary>
/// Chat middleware that charges each call to an engine key: before the call it reserves the estimate (input tokens by
/// <see cref="QuotaChatOptions.InputTokenEstimator"/>, output by the call's <c>MaxOutputTokens</c> or
/// <see cref="QuotaChatOptions.DefaultMaxOutputTokens"/>, priced by <see cref="QuotaPriceTable"/>); a refusal throws
/// <see cref="QuotaExceededException"/> and the model is not called. A reply settles the reservation at its
/// <see cref="ChatResponse.Usage"/> (input, output, cached input, reasoning tokens); a reply without usage is counted with the
/// input estimate and its own text at four characters a token. An exception or a cancellation — of the call, or of a
/// stream before it reported its usage, including a consumer that stops reading — refunds it.
/// <para>Thread-safe: one instance serves concurrent calls; each call has its own reservation.</para>
/// </summary>
public sealed class QuotaChatClient : DelegatingChatClient
{
    private readonly QuotaGate gate;
    private readonly QuotaChatOptions options;
    private readonly string? defaultModel;

    internal QuotaChatClient(IChatClient innerClient, QuotaGate gate, QuotaChatOptions options)
        : base(innerClient)
    {
        this.gate = gate;
        this.options = options;
        defaultModel = innerClient.GetService<ChatClientMetadata>()?.DefaultModelId;
    }

    /// <inheritdoc/>
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> prompt = [.. messages];
        (ReservationId id, QuotaModelPrice price, long inputEstimate) = Reserve(prompt, options);
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(prompt, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            gate.Refund(id);
            throw;
        }

        Settle(id, price, response.Usage, inputEstimate, response.Text.Length);
        return response;
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ChatMessage> prompt = [.. messages];
        (ReservationId id, QuotaModelPrice price, long inputEstimate) = Reserve(prompt, options);
        UsageDetails? usage = null;
        long outputCharacters = 0;
        bool completed = false;
        try
        {
            await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(prompt, options, cancellationToken).ConfigureAwait(false))
            {
                foreach (AIContent content in update.Contents)
                {
                    if (content is UsageContent reported)
                    {
                        (usage ??= new UsageDetails()).Add(reported.Details);
                    }
                    else if (content is TextContent text)
                    {
                        outputCharacters += text.Text.Length;
                    }
                }

                yield return update;
            }

            completed = true;
        }
        finally
        {
            // A stream that ended, or one that stopped after its usage arrived, is charged what it used; one that failed or
            // was abandoned before reporting usage is refunded.
            if (completed || usage is not null)
            {
                Settle(id, price, usage, inputEstimate, outputCharacters);
            }
            else
            {
                gate.Refund(id);
            }
        }
    }

    private (ReservationId Id, QuotaModelPrice Price, long InputEstimate) Reserve(IReadOnlyList<ChatMessage> prompt, ChatOptions? callOptions)
    {
        int key = this.options.KeyResolver!(callOptions);
        string? model = callOptions?.ModelId ?? defaultModel;
        QuotaModelPrice price = this.options.Prices.Find(model);
        long input = this.options.InputTokenEstimator?.Invoke(prompt, callOptions) ?? SimpleInputEstimate(prompt);
        long output = callOptions?.MaxOutputTokens ?? this.options.DefaultMaxOutputTokens;
        long units = PriceOrMax(price, input, output, 0, 0);
        return (gate.Reserve(key, units, input + output, model), price, input);
    }

    private void Settle(ReservationId id, QuotaModelPrice price, UsageDetails? usage, long inputEstimate, long outputCharacters)
    {
        long input = usage?.InputTokenCount ?? inputEstimate;
        long output = usage?.OutputTokenCount ?? QuotaGate.TokensOfText(outputCharacters);
        long units = PriceOrMax(price, input, output, usage?.CachedInputTokenCount ?? 0, usage?.ReasoningTokenCount ?? 0);
        gate.Settle(id, units, input + output);
    }

    /// <summary>A price past what a reservation may hold is charged at the most it may hold (the reservation refuses nothing by it).</summary>
    private static long PriceOrMax(QuotaModelPrice price, long input, long output, long cached, long reasoning)
    {
        try
        {
            return price.Price(input, output, cached, reasoning);
        }
        catch (OverflowException)
        {
            return EngineLimits.AmountMaxUnits;
        }
    }

    private static long SimpleInputEstimate(IReadOnlyList<ChatMessage> prompt)
    {
        long characters = 0;
        foreach (ChatMessage message in prompt)
        {
            characters += message.Text.Length;
        }

        return QuotaGate.TokensOfText(characters) + prompt.Count;
    }
}
