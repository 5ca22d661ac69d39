using System.Collections.Frozen;
using Microsoft.ML.Tokenizers;

namespace Quota.Host.Relay;

/// <summary>
/// Counts text in a model's tokens with the BPE tokenizers OpenAI publishes (Microsoft.ML.Tokenizers with the
/// o200k_base / cl100k_base data packages). Each encoding is loaded once per process (a few hundred ms and tens of
/// MB) and shared: the tokenizers are immutable and thread-safe, so requests only read them.
/// </summary>
public sealed class TokenCounter
{
    public const string DefaultEncoding = "o200k_base";

    /// <summary>The encodings a model may name in <c>Pricing:Models:&lt;model&gt;:Tokenizer</c>.</summary>
    public static readonly FrozenSet<string> Encodings = FrozenSet.ToFrozenSet(["o200k_base", "cl100k_base"], StringComparer.Ordinal);

    // One load per process, not per host: tests start many hosts, production one.
    private static readonly FrozenDictionary<string, Lazy<Tokenizer>> Loaded = Encodings.ToFrozenDictionary(
        name => name,
        name => new Lazy<Tokenizer>(() => TiktokenTokenizer.CreateForEncoding(name), LazyThreadSafetyMode.ExecutionAndPublication),
        StringComparer.Ordinal);

    /// <summary>Loads the encodings <paramref name="used"/> up front, so the first request does not pay for it.</summary>
    public TokenCounter(IEnumerable<string> used)
    {
        foreach (string name in used.Distinct(StringComparer.Ordinal))
        {
            _ = For(name);
        }
    }

    public static Tokenizer For(string encoding) => Loaded[encoding].Value;

    /// <summary>Tokens of <paramref name="text"/> in <paramref name="encoding"/>, special-token text counted as plain text.</summary>
    public static long Count(string encoding, string? text) =>
        string.IsNullOrEmpty(text) ? 0 : For(encoding).CountTokens(text, considerPreTokenization: true, considerNormalization: true);
}
