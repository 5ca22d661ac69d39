using System.Diagnostics;
using System.Text;
using Quota.Host.Relay;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// Counting is bounded: a piece longer than <see cref="TokenCounter.PieceCharsMax"/> counts as its UTF-8 bytes, so the
/// count stays a ceiling of the tokenizer's exact one (exact while every piece is short) and takes linear time.
/// </summary>
public sealed class TokenCounterTests
{
    private static readonly string[] Encodings = ["o200k_base", "cl100k_base"];

    /// <summary>Text whose pieces are all short: the count is the tokenizer's own.</summary>
    private static readonly string[] ShortPieces =
    [
        "The quick brown fox jumps over the lazy dog. " + string.Concat(Enumerable.Repeat("Once more, with feeling! ", 40)),
        string.Concat(Enumerable.Repeat("{\"name\": \"store\", \"parameters\": {\"type\": \"object\", \"n\": 12345}}\n", 30)),
        string.Concat(Enumerable.Repeat("def f(x):\n    return x ** 2  # squares\n\n", 30)),
        string.Concat(Enumerable.Repeat("日本語の文章です。中文句子，很短。 ", 40)),
        string.Concat(Enumerable.Repeat("emoji 🙂🎉 mixed ünïcödé and <|endoftext|> text ", 30)),
        string.Concat(Enumerable.Repeat("aGVsbG8gd29ybGQ+/", 40)),
    ];

    /// <summary>Text with pieces past the bound: runs of letters, CJK, marks and mixed case without a break.</summary>
    private static IEnumerable<string> LongPieces()
    {
        foreach (int length in new[] { 257, 300, 1_000, 3_000 })
        {
            yield return new string('a', length);
            yield return "word " + new string('Z', length) + " word";
            yield return string.Concat(Enumerable.Repeat("ab", length / 2)) + ", and then " + new string('x', length);
            yield return string.Concat(Enumerable.Repeat("日本語", length / 3));
            yield return string.Concat(Enumerable.Repeat("éà", length / 2));
            yield return string.Concat(Enumerable.Repeat("abcdefghijklmnopqrstuvwxyz", length / 26 + 1));
            yield return "  " + string.Concat(Enumerable.Repeat("ThisIsCamelCase", length / 15 + 1)) + "\n" + new string(' ', length);
        }
    }

    [Fact]
    public void Count_OfTextWhosePiecesAreShort_IsTheTokenizersExactCount()
    {
        foreach (string encoding in Encodings)
        {
            foreach (string text in ShortPieces)
            {
                Assert.True(text.Length > TokenCounter.PieceCharsMax, "the bounded path is the one under test");
                Assert.Equal(TokenCounter.For(encoding).CountTokens(text), TokenCounter.Count(encoding, text));
            }
        }
    }

    [Fact]
    public void Count_OfTextWithLongPieces_IsACeilingOfTheExactCount()
    {
        foreach (string encoding in Encodings)
        {
            foreach (string text in LongPieces())
            {
                long exact = TokenCounter.For(encoding).CountTokens(text);
                long bounded = TokenCounter.Count(encoding, text);
                Assert.True(bounded >= exact, $"{encoding}: {bounded} < exact {exact} for a text of {text.Length} characters");
                Assert.True(bounded <= Encoding.UTF8.GetByteCount(text) + 1, "never more than one token per byte");
            }
        }
    }

    [Fact]
    public void Count_OfA200KWordOfOneLetter_TakesWellUnderASecond_NotTheQuadraticTenSeconds()
    {
        string word = new('a', 200_000);
        _ = TokenCounter.Count("o200k_base", new string('a', 1_000)); // the bounded path once, outside the timing
        var clock = Stopwatch.StartNew();
        long tokens = TokenCounter.Count("o200k_base", word);
        clock.Stop();
        Assert.Equal(200_000, tokens); // one piece, past the bound: its bytes
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"counting took {clock.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void Count_StopsWhenTheRequestIsAborted()
    {
        string text = string.Concat(Enumerable.Repeat("many short words ", 10_000));
        using var aborted = new CancellationTokenSource();
        aborted.Cancel();
        Assert.Throws<OperationCanceledException>(() => TokenCounter.Count("o200k_base", text, aborted.Token));
    }
}
