using System.Text;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Quota.Clients.Tests.Support;

namespace Quota.Clients.Tests;

/// <summary>
/// The official Anthropic .NET SDK (13.15) pointed at the relay, non-stream and stream: the reply and its usage arrive
/// as the SDK parses them, and the key is charged exactly what the fake provider reported.
/// </summary>
public sealed class AnthropicDotNetTests : IAsyncLifetime
{
    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync(RelayUnderTest.WithClaude);

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private AnthropicClient Client(string key) => new() { ApiKey = key, BaseUrl = relay.Host.Client.BaseAddress!.ToString().TrimEnd('/'), MaxRetries = 0 };

    private static MessageCreateParams Hello => new()
    {
        Model = "claude-test",
        MaxTokens = 7,
        Messages = [new UserMessageParam { Content = "Say something nice please" }],
    };

    [Fact]
    public async Task Create_ReturnsTheReplyAndUsage_AndTheRelayChargesThatUsage()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);

        Message message = await Client(key).Messages.Create(Hello, bound.Token);

        Assert.True(message.Content[0].TryPickText(out TextBlock? text));
        Assert.StartsWith("This is a deterministic", text!.Text, StringComparison.Ordinal);
        Assert.Equal(7, message.Usage.OutputTokens);
        Assert.True(message.Usage.InputTokens > 0);
        Assert.Equal(message.Usage.InputTokens + (5 * message.Usage.OutputTokens), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task CreateStreaming_DeliversTheTextAndUsage_AndTheRelayChargesThatUsage()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);
        var reply = new StringBuilder();
        long input = 0, output = 0;

        await foreach (RawMessageStreamEvent streamed in Client(key).Messages.CreateStreaming(Hello, bound.Token))
        {
            if (streamed.TryPickStart(out RawMessageStartEvent? start))
            {
                input = start!.Message.Usage.InputTokens;
            }
            else if (streamed.TryPickContentBlockDelta(out RawContentBlockDeltaEvent? delta) && delta!.Delta.TryPickText(out TextDelta? piece))
            {
                reply.Append(piece!.Text);
            }
            else if (streamed.TryPickDelta(out RawMessageDeltaEvent? end))
            {
                output = end!.Usage.OutputTokens;
            }
        }

        Assert.StartsWith("This is a deterministic", reply.ToString(), StringComparison.Ordinal);
        Assert.Equal(7, output);
        Assert.Equal(input + (5 * output), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task ARefusal_SurfacesAsTheSdksRateLimitException_WithTheRelaysCode()
    {
        (_, string key) = await relay.KeyAsync(new { quota_policy = new { period_mode = "daily", quota = 1, metric = "requests", time_zone = "Europe/Berlin" } });
        await Client(key).Messages.Create(Hello);
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);

        AnthropicRateLimitException error = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => Client(key).Messages.Create(Hello, bound.Token));

        Assert.Contains("token_quota_policy_exhausted", error.Message, StringComparison.Ordinal);
    }
}
