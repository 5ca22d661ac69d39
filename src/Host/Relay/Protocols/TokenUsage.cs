using System.Buffers;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// The token kinds one request is charged for, each priced on its own (docs/relay.md "Prices per token kind"):
/// uncached input, cache reads, 5-minute and 1-hour cache writes, output (reasoning included) and the reasoning part
/// of it. Counts are as reported, clamped to the long range; sums saturate rather than overflow.
/// </summary>
public readonly record struct TokenUsage(long Input, long CacheRead, long CacheWrite5m, long CacheWrite1h, long Output, long Reasoning)
{
    /// <summary>Every input token, cached or not.</summary>
    public long InputAll => Add(Add(Input, CacheRead), Add(CacheWrite5m, CacheWrite1h));

    /// <summary>
    /// The tokens a <c>tokens</c> policy counts: what the provider's own rate limits count. OpenAI counts every input
    /// token and the output; Anthropic's input limit leaves cache reads out.
    /// </summary>
    public long PolicyTokens(ProviderProtocol protocol) =>
        Add(protocol == ProviderProtocol.Anthropic ? Add(Input, Add(CacheWrite5m, CacheWrite1h)) : InputAll, Output);

    public static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}

/// <summary>
/// What the relay has read of one upstream reply or stream so far: each usage number as last reported (an event
/// that repeats a number replaces it, never adds to it), the produced text for the tokenizer fallback, and whether
/// the reply ended (its last event) or reported an error.
/// </summary>
internal sealed class UsageTally
{
    public long? Input, CacheRead, CacheWrite5m, CacheWrite1h, Output, Reasoning;

    /// <summary>The last event came (<c>[DONE]</c>, <c>message_stop</c>, <c>response.completed</c>): stop reading.</summary>
    public bool Done;

    /// <summary>The Responses id of the reply (remembered with its context size for a later <c>previous_response_id</c>).</summary>
    public string? ResponseId;

    public long ProducedTokens;
    public readonly ArrayBufferWriter<byte> Produced = new(256);

    public bool InputKnown => Input is not null || CacheRead is not null || CacheWrite5m is not null || CacheWrite1h is not null;

    /// <summary>Appends produced text (UTF-8) for the tokenizer fallback.</summary>
    public void Produce(string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            int max = System.Text.Encoding.UTF8.GetMaxByteCount(text.Length);
            Produced.Advance(System.Text.Encoding.UTF8.GetBytes(text, Produced.GetSpan(max)));
        }
    }

    /// <summary>
    /// An OpenAI usage: <paramref name="prompt"/> includes the cached tokens, <paramref name="completion"/> the reasoning
    /// ones; each known number replaces what was known.
    /// </summary>
    public void OpenAi(long? prompt, long? cached, long? completion, long? reasoning)
    {
        if (prompt is { } all)
        {
            long read = Math.Min(cached ?? 0, all);
            Input = all - read;
            CacheRead = read;
        }

        if (completion is { } output)
        {
            Output = output;
            Reasoning = Math.Min(reasoning ?? 0, output);
        }
    }
}
