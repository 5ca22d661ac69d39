using Microsoft.Extensions.Options;
using Quota.Host.Configuration;
using Quota.Host.Relay.Protocols;

namespace Quota.Host.Relay;

/// <summary>
/// Prices requests in quota units: <c>PerCall + ceil(Σ tokens_k × price_k / 1,000,000)</c> over the token kinds
/// (uncached input, cache read, cache write 5 m and 1 h, output, reasoning), times the price group's multiplier in
/// thousandths (rounded up); integer arithmetic, overflow-checked (docs/relay.md). An estimate prices every prompt
/// token at the model's dearest input kind and every output token at its dearest output kind, so it stays a ceiling
/// whatever mix the provider reports. How the tokens are counted lives in <see cref="RelayRequest"/>.
/// </summary>
public sealed class Pricing(IOptions<PricingOptions> options)
{
    /// <summary>The group of users that name none.</summary>
    public const string DefaultGroup = "default";

    private readonly PricingOptions pricing = options.Value;

    public IEnumerable<string> Models => pricing.Models.Keys;

    public int DefaultMaxTokens => pricing.DefaultMaxTokens;

    /// <summary>A model name longer than every configured one cannot be configured (bounds what an error echoes).</summary>
    public int ModelNameLengthMax { get; } = options.Value.Models.Keys.Select(m => m.Length).DefaultIfEmpty(0).Max();

    public ModelPrice? Find(string model) => pricing.Models.TryGetValue(model, out ModelPrice? price) ? price : null;

    /// <summary>The configured price groups (a user's <c>group</c> must be one of them, or <see cref="DefaultGroup"/>).</summary>
    public IEnumerable<string> Groups => pricing.Groups.Keys;

    /// <summary>Whether a user may be put in <paramref name="group"/>: <see cref="DefaultGroup"/> or a configured one.</summary>
    public bool IsGroup(string group) => group == DefaultGroup || pricing.Groups.ContainsKey(group);

    /// <summary>
    /// The multiplier of <paramref name="group"/> in thousandths. A group no longer configured (a user saved in it before
    /// the configuration changed) is priced as <see cref="DefaultGroup"/>, which is 1000 unless configured.
    /// </summary>
    public long MultiplierPerMille(string group) =>
        pricing.Groups.TryGetValue(group, out PriceGroup? g) ? g.MultiplierPerMille
        : pricing.Groups.TryGetValue(DefaultGroup, out PriceGroup? d) ? d.MultiplierPerMille : 1000;

    /// <summary>The estimate's price (every token at its dearest kind) in a group of <paramref name="multiplierPerMille"/>,
    /// or null when it does not fit in a long.</summary>
    public static long? TryPrice(ModelPrice price, long promptTokens, long completionTokens, long multiplierPerMille)
    {
        ArgumentNullException.ThrowIfNull(price);
        long input = Math.Max(Math.Max(price.InputPerMillion, CacheRead(price)), Math.Max(CacheWrite(price), CacheWrite1h(price)));
        long output = Math.Max(price.OutputPerMillion, Reasoning(price));
        try
        {
            return Total(price, checked((promptTokens * input) + (completionTokens * output)), multiplierPerMille);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>The price of what the upstream reported in a group of <paramref name="multiplierPerMille"/>, or null when
    /// it does not fit in a long.</summary>
    public static long? TryCharge(ModelPrice price, TokenUsage usage, long multiplierPerMille)
    {
        ArgumentNullException.ThrowIfNull(price);
        try
        {
            long perMillion = checked(
                (usage.Input * price.InputPerMillion) + (usage.CacheRead * CacheRead(price)) + (usage.CacheWrite5m * CacheWrite(price)) +
                (usage.CacheWrite1h * CacheWrite1h(price)) + ((usage.Output - usage.Reasoning) * price.OutputPerMillion) + (usage.Reasoning * Reasoning(price)));
            return Total(price, perMillion, multiplierPerMille);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    private static long Total(ModelPrice price, long perMillion, long multiplierPerMille)
    {
        long units = checked(price.PerCall + Ceiling(perMillion, 1_000_000));
        return multiplierPerMille == 1000 ? units : Ceiling(checked(units * multiplierPerMille), 1000);
    }

    private static long Ceiling(long value, long divisor) => (value / divisor) + (value % divisor == 0 ? 0 : 1);

    private static long CacheRead(ModelPrice p) => p.CacheReadPerMillion ?? p.InputPerMillion;

    private static long CacheWrite(ModelPrice p) => p.CacheWritePerMillion ?? p.InputPerMillion;

    private static long CacheWrite1h(ModelPrice p) => p.CacheWrite1hPerMillion ?? CacheWrite(p);

    private static long Reasoning(ModelPrice p) => p.ReasoningPerMillion ?? p.OutputPerMillion;
}
