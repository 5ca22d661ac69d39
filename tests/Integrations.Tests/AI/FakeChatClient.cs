using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Quota.Integrations.Tests.AI;

/// <summary>A model that answers what the test set: a reply (with or without usage), a stream of updates, or a failure.</summary>
internal sealed class FakeChatClient : IChatClient
{
    public ChatResponse Reply { get; set; } = new(new ChatMessage(ChatRole.Assistant, "hello there"));
    public IReadOnlyList<ChatResponseUpdate> Updates { get; set; } = [];
    public Exception? Failure { get; set; }
    /// <summary>After this many updates the stream throws <see cref="Failure"/> (when set).</summary>
    public int FailAfterUpdates { get; set; } = int.MaxValue;
    public int Calls { get; private set; }
    public TaskCompletionSource? Gate { get; set; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Calls++;
        if (Gate is not null)
        {
            await Gate.Task.WaitAsync(cancellationToken);
        }

        return Failure is null ? Reply : throw Failure;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Calls++;
        for (int i = 0; i < Updates.Count; i++)
        {
            if (i == FailAfterUpdates && Failure is not null)
            {
                throw Failure;
            }

            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return Updates[i];
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("fake", defaultModelId: "gpt-4o-mini") : null;

    public void Dispose()
    {
    }
}
