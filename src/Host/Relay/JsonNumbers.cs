using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quota.Host.Relay;

/// <summary>
/// Integral JSON numbers however they are written: <c>100</c>, <c>100.0</c>, <c>1e2</c> all mean 100 (JSON has one
/// number type; providers differ in how they print it). Strings, fractions and other kinds are not integers.
/// </summary>
public static class JsonNumbers
{
    /// <summary>
    /// True when <paramref name="node"/> is an integral number; <paramref name="value"/> is clamped to the long range
    /// (a number beyond it reads as <see cref="long.MaxValue"/> or <see cref="long.MinValue"/>).
    /// </summary>
    public static bool TryGetIntegral(JsonNode? node, out long value)
    {
        value = 0;
        if (node is not JsonValue number || number.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        if (number.TryGetValue(out long exact))
        {
            value = exact;
            return true;
        }

        if (number.TryGetValue(out decimal precise))
        {
            if (precise != decimal.Truncate(precise))
            {
                return false;
            }

            value = precise >= long.MaxValue ? long.MaxValue : precise <= long.MinValue ? long.MinValue : (long)precise;
            return true;
        }

        if (number.TryGetValue(out double wide) && double.IsFinite(wide) && Math.Floor(wide) == wide)
        {
            value = wide >= long.MaxValue ? long.MaxValue : wide <= long.MinValue ? long.MinValue : (long)wide;
            return true;
        }

        return false;
    }

    /// <summary>
    /// The same rule for the number token <paramref name="reader"/> is on (the relay's byte path reads upstream bodies
    /// with a reader, not a tree): false for any other token.
    /// </summary>
    internal static bool TryGetIntegral(ref Utf8JsonReader reader, out long value)
    {
        value = 0;
        if (reader.TokenType != JsonTokenType.Number)
        {
            return false;
        }

        if (reader.TryGetInt64(out long exact))
        {
            value = exact;
            return true;
        }

        if (reader.TryGetDecimal(out decimal precise))
        {
            if (precise != decimal.Truncate(precise))
            {
                return false;
            }

            value = precise >= long.MaxValue ? long.MaxValue : precise <= long.MinValue ? long.MinValue : (long)precise;
            return true;
        }

        if (reader.TryGetDouble(out double wide) && double.IsFinite(wide) && Math.Floor(wide) == wide)
        {
            value = wide >= long.MaxValue ? long.MaxValue : wide <= long.MinValue ? long.MinValue : (long)wide;
            return true;
        }

        return false;
    }

    /// <summary>A token count at the reader's current token: an integral number ≥ 0, else null.</summary>
    internal static long? Tokens(ref Utf8JsonReader reader) => TryGetIntegral(ref reader, out long tokens) && tokens >= 0 ? tokens : null;
}
