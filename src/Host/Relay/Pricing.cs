using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Relay;

/// <summary>
/// Prices requests in quota units: <c>PerCall + ceil((prompt × InputPerMillion + completion × OutputPerMillion) / 1,000,000)</c>,
/// integer arithmetic, overflow-checked (docs/relay.md). How the tokens are counted lives in <see cref="RelayRequest"/>.
/// </summary>
public sealed class Pricing(IOptions<PricingOptions> options)
{
    private readonly PricingOptions pricing = options.Value;

    public IEnumerable<string> Models => pricing.Models.Keys;

    public int DefaultMaxTokens => pricing.DefaultMaxTokens;

    /// <summary>A model name longer than every configured one cannot be configured (bounds what an error echoes).</summary>
    public int ModelNameLengthMax { get; } = options.Value.Models.Keys.Select(m => m.Length).DefaultIfEmpty(0).Max();

    public ModelPrice? Find(string model) => pricing.Models.TryGetValue(model, out ModelPrice? price) ? price : null;

    /// <summary>The price, or null when it does not fit in a long.</summary>
    public long? TryPrice(ModelPrice price, long promptTokens, long completionTokens)
    {
        ArgumentNullException.ThrowIfNull(price);
        try
        {
            long perMillion = checked((promptTokens * price.InputPerMillion) + (completionTokens * price.OutputPerMillion));
            return checked(price.PerCall + ((perMillion / 1_000_000) + (perMillion % 1_000_000 == 0 ? 0 : 1)));
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}
