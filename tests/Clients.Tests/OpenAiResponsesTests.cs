using System.ClientModel;
using System.Text;
using OpenAI.Responses;
using Quota.Clients.Tests.Support;

#pragma warning disable OPENAI001 // the Responses client is marked experimental in the OpenAI .NET SDK

namespace Quota.Clients.Tests;

/// <summary>
/// The OpenAI .NET SDK's Responses client pointed at the relay, non-stream and stream: the reply and its usage arrive
/// as the SDK parses them, and the key is charged exactly what the fake provider reported.
/// </summary>
public sealed class OpenAiResponsesTests : IAsyncLifetime
{
    private RelayUnderTest relay = null!;

    public async Task InitializeAsync() => relay = await RelayUnderTest.StartAsync(RelayUnderTest.WithClaude);

    public async Task DisposeAsync() => await relay.DisposeAsync();

    private static CreateResponseOptions Hello(bool stream) =>
        new("gpt-test", [ResponseItem.CreateUserMessageItem("Say something nice please")]) { MaxOutputTokenCount = 7, StreamingEnabled = stream };

    [Fact]
    public async Task CreateResponse_ReturnsTheReplyAndUsage_AndTheRelayChargesThatUsage()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);

        ClientResult<ResponseResult> result = await relay.OpenAiClient(key).GetResponsesClient().CreateResponseAsync(Hello(stream: false), bound.Token);

        ResponseResult response = result.Value;
        Assert.StartsWith("This is a deterministic", response.GetOutputText(), StringComparison.Ordinal);
        Assert.Equal(7, response.Usage.OutputTokenCount);
        Assert.Equal(response.Usage.InputTokenCount + (5 * response.Usage.OutputTokenCount), await relay.UsedQuotaAsync(id));
    }

    [Fact]
    public async Task CreateResponseStreaming_DeliversTheTextAndTheCompletedUsage_AndTheRelayChargesIt()
    {
        (int id, string key) = await relay.KeyAsync();
        using var bound = new CancellationTokenSource(OpenAiDotNetTests.CallBound);
        var text = new StringBuilder();
        ResponseTokenUsage? usage = null;

        AsyncStreamingResult<StreamingResponseUpdate> updates = await relay.OpenAiClient(key).GetResponsesClient().CreateResponseStreamingAsync(Hello(stream: true), bound.Token);
        await foreach (StreamingResponseUpdate update in updates)
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                text.Append(delta.Delta);
            }
            else if (update is StreamingResponseCompletedUpdate completed)
            {
                usage = completed.Response.Usage;
            }
        }

        Assert.StartsWith("This is a deterministic", text.ToString(), StringComparison.Ordinal);
        Assert.NotNull(usage);
        Assert.Equal(7, usage.OutputTokenCount);
        Assert.Equal(usage.InputTokenCount + (5 * usage.OutputTokenCount), await relay.UsedQuotaAsync(id));
    }
}
