using Microsoft.Extensions.Options;
using Quota.Host.Configuration;

namespace Quota.Host.Relay.Protocols;

/// <summary>The protocol a provider speaks (its routes and its auth header).</summary>
public enum ProviderProtocol
{
    OpenAi,
    Anthropic,
}

/// <summary>
/// One upstream provider: its pooled client (the key set once, as <c>Authorization: Bearer</c> or <c>x-api-key</c>),
/// its protocol and its model patterns. The key is kept only to redact it from upstream error bodies.
/// </summary>
public sealed class RelayProvider(string name, ProviderProtocol protocol, HttpClient client, string apiKey, IReadOnlyList<string> models, bool demo = false)
{
    public string Name { get; } = name;
    public ProviderProtocol Protocol { get; } = protocol;
    public HttpClient Client { get; } = client;
    internal string ApiKey { get; } = apiKey;
    public IReadOnlyList<string> Models { get; } = models;

    /// <summary>The built-in demo upstream answers every protocol.</summary>
    public bool Demo { get; } = demo;

    /// <summary>Whether this provider serves <paramref name="endpoint"/>.</summary>
    public bool Speaks(RelayEndpoint endpoint) => Demo || Protocol == endpoint.Protocol();

    public bool Serves(string model)
    {
        foreach (string pattern in Models)
        {
            if (pattern.EndsWith('*') ? model.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : model == pattern)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>How the protocol is named in configuration and in errors.</summary>
    public static string NameOf(ProviderProtocol protocol) => protocol == ProviderProtocol.Anthropic ? "anthropic" : "openai";
}

/// <summary>
/// The providers of <c>Relay:Providers</c> (in the order of their names: configuration orders sections by name) and
/// the default one, <c>Relay:Upstream</c>, for models no provider lists. One pooled client per provider, made once.
/// </summary>
public sealed class RelayProviders : IDisposable
{
    private readonly RelayProvider[] named;

    public RelayProviders(IOptions<RelayOptions> options, RelayUpstream upstream)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(upstream);
        UpstreamOptions defaults = options.Value.Upstream;
        Default = new RelayProvider("default", ProviderProtocol.OpenAi, upstream.Client, defaults.ApiKey, [], demo: defaults.BaseUrl.Length == 0);
        named = options.Value.Providers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Create(p.Key, p.Value)).ToArray();
    }

    public RelayProvider Default { get; }

    public IReadOnlyList<RelayProvider> Named => named;

    /// <summary>The first provider whose patterns match <paramref name="model"/>, else the default one.</summary>
    public RelayProvider For(string model)
    {
        foreach (RelayProvider provider in named)
        {
            if (provider.Serves(model))
            {
                return provider;
            }
        }

        return Default;
    }

    private static RelayProvider Create(string name, ProviderOptions options)
    {
        ProviderProtocol protocol = ProviderValidation.Parse(options.Protocol)!.Value;
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
        {
            BaseAddress = new Uri(options.BaseUrl.TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan, // the relay's own clocks bound every call
        };
        if (options.ApiKey.Length > 0)
        {
            if (protocol == ProviderProtocol.Anthropic)
            {
                client.DefaultRequestHeaders.Add("x-api-key", options.ApiKey);
            }
            else
            {
                client.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
            }
        }

        return new RelayProvider(name, protocol, client, options.ApiKey, options.Models.ToArray());
    }

    public void Dispose()
    {
        foreach (RelayProvider provider in named)
        {
            provider.Client.Dispose();
        }
    }
}

/// <summary>Checks <c>Relay:Providers</c> at start, naming the provider and the key that is wrong.</summary>
public sealed class ProviderValidation : IValidateOptions<RelayOptions>
{
    public static ProviderProtocol? Parse(string protocol) => protocol switch
    {
        "openai" => ProviderProtocol.OpenAi,
        "anthropic" => ProviderProtocol.Anthropic,
        _ => null,
    };

    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach ((string provider, ProviderOptions p) in options.Providers)
        {
            string at = "Relay:Providers:" + provider;
            if (Parse(p.Protocol) is null)
            {
                failures.Add($"{at}:Protocol must be openai or anthropic");
            }

            if (!OptionsRegistration.IsHttpUrl(p.BaseUrl))
            {
                failures.Add($"{at}:BaseUrl must be an absolute http(s) URL including /v1");
            }

            if (p.Models.Count == 0)
            {
                failures.Add($"{at}:Models must list at least one model id or prefix* pattern");
            }

            for (int i = 0; i < p.Models.Count; i++)
            {
                string pattern = p.Models[i];
                if (pattern.Length == 0 || pattern.IndexOf('*') is >= 0 and int star && star != pattern.Length - 1)
                {
                    failures.Add($"{at}:Models:{i} must be a model id or a prefix followed by one '*' at its end");
                }
            }

            if (p.ApiKey.Any(char.IsControl))
            {
                failures.Add($"{at}:ApiKey must not contain control characters");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
