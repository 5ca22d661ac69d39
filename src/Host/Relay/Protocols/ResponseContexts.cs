using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Relay.Protocols;

/// <summary>
/// What a Responses request continues that the relay cannot see: for each response id (and conversation id) a key
/// was answered, the context size the provider reported (input + output tokens), so a later request naming it as
/// <c>previous_response_id</c> or <c>conversation</c> reserves it. Unknown ids (another relay, a restart, forgotten)
/// reserve <c>Relay:Responses:UnknownContextTokens</c>. Bounded: at most <c>Relay:Responses:RememberedMax</c> ids,
/// the oldest forgotten first. Keyed by key, so one key cannot learn or spend another's context.
/// </summary>
public sealed class ResponseContexts(IOptions<RelayOptions> options)
{
    private readonly ResponsesOptions settings = options.Value.Responses;
    private readonly ConcurrentDictionary<(int Token, string Id), long> sizes = new();
    private readonly ConcurrentQueue<(int Token, string Id)> order = new();

    /// <summary>The context tokens a request carries from its <c>previous_response_id</c> or <c>conversation</c>; 0 without either.</summary>
    public long Carried(int tokenId, JsonObject body)
    {
        ArgumentNullException.ThrowIfNull(body);
        string? previous = IdOf(body["previous_response_id"]);
        string? conversation = ConversationOf(body);
        if (previous is null && conversation is null)
        {
            return 0;
        }

        long carried = 0;
        foreach (string? id in (ReadOnlySpan<string?>)[previous, conversation])
        {
            if (id is not null)
            {
                carried = Math.Max(carried, sizes.TryGetValue((tokenId, id), out long size) ? size : settings.UnknownContextTokens);
            }
        }

        return carried;
    }

    /// <summary>The conversation a request continues (a string id, or an object with an <c>id</c>), or null.</summary>
    public static string? ConversationOf(JsonObject body) =>
        IdOf(body?["conversation"] is JsonObject c ? c["id"] : body?["conversation"]);

    /// <summary>Remembers a response's context size under its id and its request's conversation id.</summary>
    public void Remember(int tokenId, string? responseId, string? conversation, long contextTokens)
    {
        foreach (string? id in (ReadOnlySpan<string?>)[responseId, conversation])
        {
            if (id is null || settings.RememberedMax == 0)
            {
                continue;
            }

            if (sizes.TryAdd((tokenId, id), contextTokens))
            {
                order.Enqueue((tokenId, id));
                while (sizes.Count > settings.RememberedMax && order.TryDequeue(out (int, string) oldest))
                {
                    sizes.TryRemove(oldest, out _);
                }
            }
            else
            {
                sizes[(tokenId, id)] = contextTokens;
            }
        }
    }

    private static string? IdOf(JsonNode? node) => node is JsonValue value && value.TryGetValue(out string? id) && id.Length is > 0 and <= 256 ? id : null;
}
