// What each relay route is, in one table: the path it is forwarded to (appended to the provider's base URL, which
// includes /v1), the protocol name its consume rows record, and the provider protocol that serves it.
using Quota.Host.Relay.Protocols;

namespace Quota.Host.Relay;

internal static class RelayRoutes
{
    private readonly record struct Route(string UpstreamPath, string LogName, ProviderProtocol Protocol);

    private static Route Of(RelayEndpoint endpoint) => endpoint switch
    {
        RelayEndpoint.Embeddings => new("embeddings", "embeddings", ProviderProtocol.OpenAi),
        RelayEndpoint.Messages => new("messages", "messages", ProviderProtocol.Anthropic),
        RelayEndpoint.Responses => new("responses", "responses", ProviderProtocol.OpenAi),
        _ => new("chat/completions", "chat", ProviderProtocol.OpenAi),
    };

    /// <summary>The upstream path of the route, after the provider's base URL.</summary>
    public static string UpstreamPath(this RelayEndpoint endpoint) => Of(endpoint).UpstreamPath;

    /// <summary>chat, embeddings, messages or responses: the consume row's <c>protocol</c>.</summary>
    public static string LogName(this RelayEndpoint endpoint) => Of(endpoint).LogName;

    /// <summary>The protocol a provider must speak to serve the route.</summary>
    public static ProviderProtocol Protocol(this RelayEndpoint endpoint) => Of(endpoint).Protocol;
}
