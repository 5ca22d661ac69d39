using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;
using Quota.Host.Relay;
using Quota.Host.Runtime;

namespace Quota.Benchmarks;

/// <summary>
/// The relay's work on a request before it reserves: the strict JSON read and the estimate (prompt count with o200k_base,
/// completion cap, price). An ordinary 16 KiB chat, and the worst case: 4 MiB of one letter, one piece the pre-tokenizer
/// does not split (BPE on it would be quadratic; it is counted by its bytes).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("relay")]
public class PromptEstimateBenchmarks
{
    private Pricing pricing = null!;
    private byte[] ordinary = [];
    private byte[] oneLetter = [];

    [GlobalSetup]
    public void Setup()
    {
        var options = new PricingOptions();
        foreach ((string model, ModelPrice price) in PricingOptions.DefaultModels)
        {
            options.Models[model] = price;
        }

        pricing = new Pricing(Options.Create(options));
        _ = TokenCounter.For(TokenCounter.DefaultEncoding);
        string sentence = "The relay counts every string of every message with the model's tokenizer. ";
        ordinary = Chat(string.Concat(Enumerable.Repeat(sentence, 16 * 1024 / sentence.Length)));
        oneLetter = Chat(new string('a', 4 * 1024 * 1024 - 100));
    }

    [Benchmark(Baseline = true)]
    public long Ordinary16KiB() => Estimate(ordinary);

    [Benchmark]
    public long OneLetter4MiB() => Estimate(oneLetter);

    private long Estimate(byte[] body)
    {
        StrictJson.Outcome read = StrictJson.Parse(body);
        RelayRequest.Outcome parsed = RelayRequest.Parse(read.Value!, read.Bytes, RelayEndpoint.ChatCompletions, pricing, 1024, multiplierPerMille: 1000);
        return parsed.Value?.EstimateUnits ?? throw new InvalidOperationException(parsed.Error);
    }

    private static byte[] Chat(string content) =>
        Encoding.UTF8.GetBytes($$"""{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"{{content}}"}]}""");
}
