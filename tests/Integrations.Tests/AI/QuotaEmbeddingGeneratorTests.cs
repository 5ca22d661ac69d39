using Microsoft.Extensions.AI;
using Quota.Engine.AI;
using Quota.Integrations.Tests.Support;

namespace Quota.Integrations.Tests.AI;

/// <summary>The embedding middleware over a fake generator.</summary>
public sealed class QuotaEmbeddingGeneratorTests
{
    private sealed class FakeGenerator : IEmbeddingGenerator<string, Embedding<float>>
    {
        public UsageDetails? Usage { get; set; }
        public Exception? Failure { get; set; }

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            Failure is not null ? throw Failure
            : Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(_ => new Embedding<float>(new float[] { 1, 2 }))) { Usage = Usage });

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("fake", defaultModelId: "text-embedding-3-small") : null;

        public void Dispose()
        {
        }
    }

    private static IEmbeddingGenerator<string, Embedding<float>> Build(Books books, FakeGenerator generator) =>
        generator.AsBuilder().UseQuota(q =>
        {
            q.Engine = books.Engine;
            q.KeyResolver = _ => books.KeyId;
            q.Prices.Add("text-embedding-3-small", new QuotaModelPrice(InputPerMillion: 10_000, OutputPerMillion: 0));
        }).Build();

    [Fact]
    public async Task ACall_IsSettledAtItsUsage_OrItsEstimate_AndAFailureIsRefunded()
    {
        var books = new Books();
        var generator = new FakeGenerator { Usage = new UsageDetails { InputTokenCount = 250_000 } };
        await Build(books, generator).GenerateAsync(["a", "b"]);
        Assert.Equal(2_500, books.Used);

        generator.Usage = null; // 2 × 4,000 characters → 2 × 1,000 tokens + 1 per value = 2,002 tokens → ceil(20.02) = 21
        await Build(books, generator).GenerateAsync([new string('x', 4_000), new string('y', 4_000)]);
        Assert.Equal(2_521, books.Used);

        generator.Failure = new InvalidOperationException("down");
        await Assert.ThrowsAsync<InvalidOperationException>(() => Build(books, generator).GenerateAsync(["a"]));
        Assert.Equal(2_521, books.Used);
        Assert.Equal(0, books.Reserved);
    }
}
