namespace Quota.Engine.AI;

/// <summary>
/// One model's price in quota units per 1,000,000 tokens of each kind, and per call. Priced as the relay prices
/// (docs/relay.md): <c>PerCall + ceil((fresh input × Input + cached input × CachedInput + visible output × Output +
/// reasoning × Reasoning) / 1,000,000)</c>, in integer arithmetic, overflow-checked. Cached input tokens are part of the
/// input count and reasoning tokens part of the output count (as providers report them), so each token is priced once;
/// with the defaults (cached at the input price, reasoning at the output price) this is the relay's
/// <c>PerCall + ceil((input × Input + output × Output) / 1,000,000)</c> exactly.
/// </summary>
/// <param name="InputPerMillion">Units per 1M input tokens, 0 … <see cref="EngineLimits.AmountMaxUnits"/>.</param>
/// <param name="OutputPerMillion">Units per 1M output tokens, 0 … <see cref="EngineLimits.AmountMaxUnits"/>.</param>
/// <param name="CachedInputPerMillion">Units per 1M cached input tokens; null: <paramref name="InputPerMillion"/>.</param>
/// <param name="ReasoningPerMillion">Units per 1M reasoning tokens; null: <paramref name="OutputPerMillion"/>.</param>
/// <param name="PerCall">Units per call, whatever the tokens.</param>
public sealed record QuotaModelPrice(long InputPerMillion, long OutputPerMillion, long? CachedInputPerMillion = null, long? ReasoningPerMillion = null, long PerCall = 0)
{
    private const long TokensPerMillion = 1_000_000;

    /// <summary>The price of a call, in quota units; throws <see cref="OverflowException"/> when it does not fit in a long.</summary>
    /// <param name="inputTokens">Input tokens, cached ones included.</param>
    /// <param name="outputTokens">Output tokens, reasoning ones included.</param>
    /// <param name="cachedInputTokens">Of the input, how many were cached (clamped to 0 … input).</param>
    /// <param name="reasoningTokens">Of the output, how many were reasoning (clamped to 0 … output).</param>
    public long Price(long inputTokens, long outputTokens, long cachedInputTokens = 0, long reasoningTokens = 0)
    {
        inputTokens = Math.Max(0, inputTokens);
        outputTokens = Math.Max(0, outputTokens);
        long cached = Math.Clamp(cachedInputTokens, 0, inputTokens);
        long reasoning = Math.Clamp(reasoningTokens, 0, outputTokens);
        long perMillion = checked(
            ((inputTokens - cached) * InputPerMillion) + (cached * (CachedInputPerMillion ?? InputPerMillion)) +
            ((outputTokens - reasoning) * OutputPerMillion) + (reasoning * (ReasoningPerMillion ?? OutputPerMillion)));
        return checked(PerCall + (perMillion / TokensPerMillion) + (perMillion % TokensPerMillion == 0 ? 0 : 1));
    }

    internal QuotaModelPrice Validated(string model)
    {
        foreach ((string name, long? value) in new (string, long?)[]
        {
            (nameof(InputPerMillion), InputPerMillion), (nameof(OutputPerMillion), OutputPerMillion), (nameof(CachedInputPerMillion), CachedInputPerMillion),
            (nameof(ReasoningPerMillion), ReasoningPerMillion), (nameof(PerCall), PerCall),
        })
        {
            if (value is < 0 or > EngineLimits.AmountMaxUnits)
            {
                throw new ArgumentOutOfRangeException(name, value, $"the price of {model} must be 0 … {EngineLimits.AmountMaxUnits} units");
            }
        }

        return this;
    }
}
