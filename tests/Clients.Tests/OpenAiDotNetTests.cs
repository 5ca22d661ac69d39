using System.ClientModel;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;
using Quota.Clients.Tests.Support;

namespace Quota.Clients.Tests;

/// <summary>
/// The official OpenAI .NET SDK pointed at the relay, as the README shows it: chat (non-stream and stream) with usage,
/// embeddings, models, and refusals that surface promptly as <see cref="ClientResultException"/> with the relay's code.
/// "Promptly" is bounded by each call's own cancellation token, never timed: a client that slept on a far
/// Retry-After would be cancelled and fail with OperationCanceledException instead.
/// </summary>
public sealed class OpenAiDotNetTests : IAsyncLifetime
{
    /// <summary>The longest any call here may take; the SDK's own retry delays are far shorter when the relay is right.</summary>
    internal static readonly TimeSpan CallBound = TimeSpan.FromSeconds(10);

    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync();

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private static ChatMessage[] Hello => [new UserChatMessage("Say something nice please")];

    [Fact]
    public async Task CompleteChat_ReturnsTheReplyAndUsage_AndTheRelayChargesThatUsage()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(CallBound);

        ClientResult<ChatCompletion> result = await relay.OpenAiClient(key).GetChatClient("gpt-4o-mini")
            .CompleteChatAsync(Hello, new ChatCompletionOptions { MaxOutputTokenCount = 7 }, bound.Token);

        ChatCompletion completion = result.Value;
        Assert.StartsWith("This is a deterministic", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Equal(RelayUnderTest.Gpt4oMiniPrice(completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task CompleteChatStreaming_DeliversTheTextAndUsageInTheLastUpdate()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(CallBound);
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;

        await foreach (StreamingChatCompletionUpdate update in relay.OpenAiClient(key).GetChatClient("gpt-4o-mini")
            .CompleteChatStreamingAsync(Hello, new ChatCompletionOptions { MaxOutputTokenCount = 5 }, bound.Token))
        {
            foreach (ChatMessageContentPart part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
        }

        Assert.Equal("This is a deterministic reply", text.ToString());
        Assert.NotNull(usage);
        Assert.Equal(5, usage.OutputTokenCount);
        Assert.Equal(RelayUnderTest.Gpt4oMiniPrice(usage.InputTokenCount, usage.OutputTokenCount), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task GenerateEmbedding_ReturnsTheVector_AndIsCharged()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(CallBound);

        ClientResult<OpenAIEmbedding> result = await relay.OpenAiClient(key).GetEmbeddingClient("text-embedding-3-small")
            .GenerateEmbeddingAsync("a sentence worth embedding", cancellationToken: bound.Token);

        Assert.Equal([0.1f, 0.2f, 0.3f, 0.4f], result.Value.ToFloats().ToArray());
        Assert.Equal(1, await relay.UsedQuotaAsync(id)); // a few tokens at 10,000 units per 1M, rounded up
    }

    [Fact]
    public async Task GetModels_ListsThePricedModels()
    {
        (_, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(CallBound);

        ClientResult<OpenAIModelCollection> models = await relay.OpenAiClient(key).GetOpenAIModelClient().GetModelsAsync(bound.Token);

        Assert.Contains(models.Value, m => m.Id == "gpt-4o-mini");
        Assert.Contains(models.Value, m => m.Id == "text-embedding-3-small");
    }

    [Fact]
    public async Task AnExhaustedDailyKey_FailsWithinTheBound_AsClientResultException429_WithTheCodeReadable()
    {
        string key = await relay.ExhaustedDailyKeyAsync();
        using var bound = new CancellationTokenSource(CallBound);

        ClientResultException error = await Assert.ThrowsAsync<ClientResultException>(() =>
            relay.OpenAiClient(key).GetChatClient("demo-per-call").CompleteChatAsync(Hello, cancellationToken: bound.Token));

        Assert.Equal(429, error.Status);
        Assert.Equal("token_quota_policy_exhausted", ErrorCode(error));
        Assert.Contains("token_quota_policy_exhausted", error.Message, StringComparison.Ordinal);
        Assert.False(error.GetRawResponse()!.Headers.TryGetValue("Retry-After", out _));
        Assert.True(error.GetRawResponse()!.Headers.TryGetValue("RateLimit", out string? rateLimit));
        Assert.Contains(";t=", rateLimit, StringComparison.Ordinal); // the reset time is still there for those who read it
    }

    [Fact]
    public async Task AnEmptyWallet_FailsWithinTheBound_AsClientResultException403_InsufficientUserQuota()
    {
        string key = await relay.EmptyWalletKeyAsync();
        using var bound = new CancellationTokenSource(CallBound);

        ClientResultException error = await Assert.ThrowsAsync<ClientResultException>(() =>
            relay.OpenAiClient(key).GetChatClient("demo-per-call").CompleteChatAsync(Hello, cancellationToken: bound.Token));

        Assert.Equal(403, error.Status);
        Assert.Equal("insufficient_user_quota", ErrorCode(error));
    }

    /// <summary>The relay's <c>error.code</c>, read from the response the exception carries.</summary>
    internal static string? ErrorCode(ClientResultException error) =>
        JsonDocument.Parse(error.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error").GetProperty("code").GetString();
}
