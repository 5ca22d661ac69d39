using Microsoft.Extensions.AI;
using Quota.Engine.AI;
using Quota.Engine.Model;
using Quota.Integrations.Tests.Support;

namespace Quota.Integrations.Tests.AI;

/// <summary>The chat middleware over a fake model: what is reserved, settled and refunded on every path.</summary>
public sealed class QuotaChatClientTests
{
    private static readonly QuotaModelPrice Mini = new(InputPerMillion: 75_000, OutputPerMillion: 300_000, CachedInputPerMillion: 37_500, ReasoningPerMillion: 600_000);

    private static IChatClient Build(Books books, FakeChatClient model, Action<QuotaChatOptions>? more = null) =>
        model.AsBuilder().UseQuota(q =>
        {
            q.Engine = books.Engine;
            q.KeyResolver = _ => books.KeyId;
            q.Prices.Add("gpt-4o-mini", Mini);
            more?.Invoke(q);
        }).Build();

    [Fact]
    public async Task AReply_IsSettledAtItsUsage_EachKindOfTokenAtItsPrice()
    {
        var books = new Books();
        var model = new FakeChatClient();
        model.Reply.Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 500, CachedInputTokenCount = 400, ReasoningTokenCount = 100 };
        ChatResponse response = await Build(books, model).GetResponseAsync("hi");

        // (600 × 75,000 + 400 × 37,500 + 400 × 300,000 + 100 × 600,000) / 1M = 45 + 15 + 120 + 60 = 240
        Assert.Equal(240, books.Used);
        Assert.Equal(0, books.Reserved);
        Assert.Same(model.Reply, response);
    }

    [Fact]
    public void ThePrice_WithDefaultKinds_IsTheRelays()
    {
        var plain = new QuotaModelPrice(75_000, 300_000);
        Assert.Equal(Support.RelayPrice.Gpt4oMini(1_234, 567), plain.Price(1_234, 567, cachedInputTokens: 200, reasoningTokens: 50));
        Assert.Throws<OverflowException>(() => new QuotaModelPrice(long.MaxValue / 2, 0).Price(4, 0));
    }

    [Fact]
    public async Task AReplyWithoutUsage_IsCountedWithTheEstimates()
    {
        var books = new Books();
        var model = new FakeChatClient { Reply = new ChatResponse(new ChatMessage(ChatRole.Assistant, new string('x', 4_000))) };
        await Build(books, model, q => q.InputTokenEstimator = (_, _) => 2_000).GetResponseAsync("hi");

        // input 2,000 (the caller's estimate) + output 1,000 (4,000 characters) = ceil((150M + 300M) / 1M) = 450
        Assert.Equal(450, books.Used);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task AFailure_IsRefunded()
    {
        var books = new Books();
        var model = new FakeChatClient { Failure = new InvalidOperationException("upstream down") };
        await Assert.ThrowsAsync<InvalidOperationException>(() => Build(books, model).GetResponseAsync("hi"));
        Assert.Equal(0, books.Used);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task ACancelledCall_IsRefunded()
    {
        var books = new Books();
        var model = new FakeChatClient { Gate = new TaskCompletionSource() };
        using var cts = new CancellationTokenSource();
        Task<ChatResponse> call = Build(books, model).GetResponseAsync("hi", cancellationToken: cts.Token);
        Assert.True(books.Reserved > 0); // reserved before the model was called
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(0, books.Used);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task ARefusal_ThrowsWithTheResetTime_AndTheModelIsNotCalled()
    {
        var books = new Books(1_000_000, Books.Daily(1));
        var model = new FakeChatClient();
        model.Reply.Usage = new UsageDetails { InputTokenCount = 100, OutputTokenCount = 100 };
        IChatClient client = Build(books, model);
        await client.GetResponseAsync("hi"); // uses up the daily unit (graceful boundary)

        QuotaExceededException e = await Assert.ThrowsAsync<QuotaExceededException>(() => client.GetResponseAsync("hi"));
        Assert.Equal(ReserveResult.PolicyExhausted, e.Reason);
        long windowEnd = books.Engine.ReadToken(books.KeyId, books.Engine.NowMs)!.Policies[0].PeriodEndMs;
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(windowEnd), e.ResetsAt);
        Assert.Equal(1, model.Calls);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task ACompletedStream_IsSettledAtItsUsage()
    {
        var books = new Books();
        var model = new FakeChatClient
        {
            Updates =
            [
                new ChatResponseUpdate(ChatRole.Assistant, "hel"),
                new ChatResponseUpdate(ChatRole.Assistant, "lo"),
                new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 1_000 })] },
            ],
        };
        int seen = 0;
        await foreach (ChatResponseUpdate _ in Build(books, model).GetStreamingResponseAsync("hi"))
        {
            seen++;
        }

        Assert.Equal(3, seen);
        Assert.Equal(375, books.Used); // 75 + 300
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task AStreamCancelledMidway_IsRefunded()
    {
        var books = new Books();
        var model = new FakeChatClient { Updates = [.. Enumerable.Range(0, 10).Select(i => new ChatResponseUpdate(ChatRole.Assistant, $"part {i} "))] };
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (ChatResponseUpdate _ in Build(books, model).GetStreamingResponseAsync("hi", cancellationToken: cts.Token))
            {
                if (++seen == 3)
                {
                    Assert.True(books.Reserved > 0);
                    await cts.CancelAsync();
                }
            }
        });
        Assert.Equal(3, seen);
        Assert.Equal(0, books.Used);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task AStreamTheConsumerAbandons_OrThatFails_IsRefunded()
    {
        var books = new Books();
        var model = new FakeChatClient { Updates = [.. Enumerable.Range(0, 10).Select(i => new ChatResponseUpdate(ChatRole.Assistant, $"part {i} "))] };
        await foreach (ChatResponseUpdate _ in Build(books, model).GetStreamingResponseAsync("hi"))
        {
            break;
        }

        model.Failure = new HttpRequestException("connection reset");
        model.FailAfterUpdates = 2;
        await Assert.ThrowsAsync<HttpRequestException>(async () =>
        {
            await foreach (ChatResponseUpdate _ in Build(books, model).GetStreamingResponseAsync("hi"))
            {
            }
        });
        Assert.Equal(0, books.Used);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task AModelWithoutAPrice_IsAConfigurationError_ThatReservesNothing()
    {
        var books = new Books();
        IChatClient client = Build(books, new FakeChatClient());
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "o3" }));
        Assert.Contains("'o3'", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, books.Reserved);
    }
}
