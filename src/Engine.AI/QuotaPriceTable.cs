namespace Quota.Engine.AI;

/// <summary>
/// What each model costs, in quota units (<see cref="QuotaModelPrice"/>), looked up by the call's model id
/// (<c>ChatOptions.ModelId</c>, else the client's default model). Filled at start, then only read: safe to share.
/// </summary>
public sealed class QuotaPriceTable
{
    private readonly Dictionary<string, QuotaModelPrice> prices = new(StringComparer.Ordinal);

    /// <summary>The price of a model the table does not name; null: such a call throws <see cref="InvalidOperationException"/>.</summary>
    public QuotaModelPrice? Default { get; set; }

    /// <summary>Sets a model's price (validated: every price 0 … <see cref="EngineLimits.AmountMaxUnits"/>).</summary>
    public QuotaPriceTable Add(string model, QuotaModelPrice price)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentNullException.ThrowIfNull(price);
        prices[model] = price.Validated(model);
        return this;
    }

    /// <summary>The model's price, or <see cref="Default"/>; throws <see cref="InvalidOperationException"/> naming a model without one.</summary>
    public QuotaModelPrice Find(string? model) =>
        model is not null && prices.TryGetValue(model, out QuotaModelPrice? price) ? price
        : Default ?? throw new InvalidOperationException($"the quota price table has no price for model '{model ?? "(none)"}' and no Default");
}
