using Microsoft.Extensions.AI;
using Quota.Clients.Tests.Support;
using Quota.Engine.AI;
using Quota.Integrations.Tests.Support;

namespace Quota.Integrations.Tests.AI;

/// <summary>
/// The middleware around the OpenAI SDK's IChatClient, pointed at the relay (which runs in-process over tools/FakeUpstream):
/// the relay bills its key from the provider's usage, the middleware bills its own engine from the same usage as
/// ChatResponse.Usage reports it — at the same prices both must charge the same units.
/// </summary>
public sealed class OpenAiThroughTheRelayTests : IAsyncLifetime
{
    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync();

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private IChatClient Client(string relayKey, Books books) =>
        relay.OpenAiClient(relayKey).GetChatClient("gpt-4o-mini").AsIChatClient().AsBuilder().UseQuota(q =>
        {
            q.Engine = books.Engine;
            q.KeyResolver = _ => books.KeyId;
            q.Prices.Add("gpt-4o-mini", new QuotaModelPrice(InputPerMillion: 75_000, OutputPerMillion: 300_000)); // the host's default prices
        }).Build();

    [Fact]
    public async Task AReply_AndAStream_AreChargedWhatTheRelayCharges()
    {
        (int relayKeyId, string relayKey) = await relay.KeyAsync();
        var books = new Books();
        IChatClient client = Client(relayKey, books);

        ChatResponse reply = await client.GetResponseAsync("Say hello", new ChatOptions { MaxOutputTokens = 50 });
        Assert.NotNull(reply.Usage);
        Assert.Equal(await relay.UsedQuotaAsync(relayKeyId), books.Used);

        await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync("Tell me more", new ChatOptions { MaxOutputTokens = 50 }))
        {
        }

        Assert.Equal(await relay.UsedQuotaAsync(relayKeyId), books.Used);
        Assert.True(books.Used > 0);
        Assert.Equal(0, books.Reserved);
    }

    [Fact]
    public async Task ARelayRefusal_IsTheClientsException_AndTheMiddlewareRefunds()
    {
        string emptyWallet = await relay.EmptyWalletKeyAsync();
        var books = new Books();
        await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() => Client(emptyWallet, books).GetResponseAsync("hi"));
        Assert.Equal(0, books.Used);
        Assert.Equal(0, books.Reserved);
    }
}
