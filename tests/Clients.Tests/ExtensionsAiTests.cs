using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;
using Quota.Clients.Tests.Support;

namespace Quota.Clients.Tests;

/// <summary>
/// Microsoft.Extensions.AI over the OpenAI SDK (what .NET applications program against): <see cref="IChatClient"/>
/// and <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> pointed at the relay, and a refusal surfacing with the
/// relay's code. Calls are bounded by their own cancellation token (see <see cref="OpenAiDotNetTests.CallBound"/>).
/// </summary>
public sealed class ExtensionsAiTests : IAsyncLifetime
{
    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync();

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private IChatClient ChatClient(string key, string model = "gpt-4o-mini") => relay.OpenAiClient(key).GetChatClient(model).AsIChatClient();

    [Fact]
    public async Task GetResponse_ReturnsTheTextAndUsage_AndTheRelayChargesThatUsage()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);

        ChatResponse response = await ChatClient(key).GetResponseAsync("Say something nice please", new ChatOptions { MaxOutputTokens = 6 }, bound.Token);

        Assert.Equal("This is a deterministic reply from", response.Text);
        Assert.Equal(6, response.Usage?.OutputTokenCount);
        Assert.True(response.Usage?.InputTokenCount > 0);
        Assert.Equal(RelayUnderTest.Gpt4oMiniPrice(response.Usage!.InputTokenCount!.Value, 6), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task GetStreamingResponse_DeliversTheTextAndAUsageContent()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);
        var updates = new List<ChatResponseUpdate>();

        await foreach (ChatResponseUpdate update in ChatClient(key).GetStreamingResponseAsync("Say something nice please", new ChatOptions { MaxOutputTokens = 4 }, bound.Token))
        {
            updates.Add(update);
        }

        ChatResponse response = updates.ToChatResponse();
        Assert.Equal("This is a deterministic", response.Text);
        UsageContent usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Equal(4, usage.Details.OutputTokenCount);
        Assert.Equal(RelayUnderTest.Gpt4oMiniPrice(usage.Details.InputTokenCount!.Value, 4), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task EmbeddingGenerator_ReturnsTheVector()
    {
        (_, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);
        IEmbeddingGenerator<string, Embedding<float>> generator = relay.OpenAiClient(key).GetEmbeddingClient("text-embedding-3-small").AsIEmbeddingGenerator();

        Embedding<float> embedding = await generator.GenerateAsync("a sentence worth embedding", cancellationToken: bound.Token);

        Assert.Equal([0.1f, 0.2f, 0.3f, 0.4f], embedding.Vector.ToArray());
    }

    [Fact]
    public async Task AnExhaustedDailyKey_FailsWithinTheBound_WithTheCodeReadableFromTheException()
    {
        string key = await relay.ExhaustedDailyKeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);

        ClientResultException error = await Assert.ThrowsAsync<ClientResultException>(() => ChatClient(key, "demo-per-call").GetResponseAsync("hi", cancellationToken: bound.Token));

        Assert.Equal(429, error.Status);
        Assert.Equal("token_quota_policy_exhausted", OpenAiDotNetTests.ErrorCode(error));
    }

    [Fact]
    public async Task AnEmptyWallet_FailsWithinTheBound_As403_InsufficientUserQuota()
    {
        string key = await relay.EmptyWalletKeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);

        ClientResultException error = await Assert.ThrowsAsync<ClientResultException>(() => ChatClient(key, "demo-per-call").GetResponseAsync("hi", cancellationToken: bound.Token));

        Assert.Equal(403, error.Status);
        Assert.Equal("insufficient_user_quota", OpenAiDotNetTests.ErrorCode(error));
    }
}
