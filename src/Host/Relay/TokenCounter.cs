using System.Collections.Frozen;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Quota.Host.Relay;

/// <summary>
/// Counts text in a model's tokens with the BPE tokenizers OpenAI publishes (Microsoft.ML.Tokenizers with the
/// o200k_base / cl100k_base data packages). Each encoding is loaded once per process (a few hundred ms and tens of
/// MB) and shared: the tokenizers are immutable and thread-safe, so requests only read them.
/// BPE time grows with the square of a pre-tokenized piece's length (a 200,000-letter word took ~10 s), so a piece longer
/// than <see cref="PieceCharsMax"/> is counted as its UTF-8 bytes instead: a ceiling, since every token of these
/// byte-level encodings is at least one byte (docs/relay.md "The estimate").
/// </summary>
public sealed class TokenCounter
{
    public const string DefaultEncoding = "o200k_base";

    /// <summary>The longest piece (a run the pre-tokenizer does not split, e.g. letters without a space) counted by BPE.</summary>
    public const int PieceCharsMax = 256;

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

    /// <summary>
    /// Tokens of <paramref name="text"/> in <paramref name="encoding"/>, special-token text counted as plain text: exact
    /// while every piece is at most <see cref="PieceCharsMax"/> characters, a ceiling otherwise. Time is linear in the
    /// text's length; <paramref name="cancellationToken"/> (the request's) is looked at between pieces.
    /// </summary>
    public static long Count(string encoding, string? text, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        Tokenizer tokenizer = For(encoding);
        if (text.Length <= PieceCharsMax || tokenizer.PreTokenizer is not { } preTokenizer)
        {
            return tokenizer.CountTokens(text, considerPreTokenization: true, considerNormalization: true);
        }

        long tokens = 0;
        foreach ((int offset, int length) in preTokenizer.PreTokenize(text))
        {
            cancellationToken.ThrowIfCancellationRequested();
            ReadOnlySpan<char> piece = text.AsSpan(offset, length);
            tokens += length <= PieceCharsMax
                ? tokenizer.CountTokens(piece, considerPreTokenization: false, considerNormalization: true)
                : Encoding.UTF8.GetByteCount(piece);
        }

        return tokens;
    }
}
