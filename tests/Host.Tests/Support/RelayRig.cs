using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Quota.Host.Tests.Support;

/// <summary>A fake upstream (with its misbehaviour) and the host in front of it, plus the few reads relay tests need.</summary>
internal sealed class RelayRig : IAsyncDisposable
{
    private readonly TempDirectory data;

    private RelayRig(TempDirectory data, UpstreamUnderTest upstream, HostUnderTest host)
    {
        this.data = data;
        Upstream = upstream;
        Host = host;
    }

    public UpstreamUnderTest Upstream { get; }
    public HostUnderTest Host { get; }

    /// <param name="fake">Fake upstream settings, e.g. "Misbehave=html" (prefixed with --Fake:).</param>
    /// <param name="host">Host settings, e.g. "Relay:Upstream:IdleTimeoutSeconds=1" (prefixed with --).</param>
    public static Task<RelayRig> StartAsync(string[]? fake = null, string[]? host = null, Microsoft.Extensions.Time.Testing.FakeTimeProvider? time = null) =>
        StartAsync(fake, _ => host ?? [], time);

    /// <param name="host">Host settings given the fake upstream's base URL (to point providers at it).</param>
    public static async Task<RelayRig> StartAsync(string[]? fake, Func<string, string[]> host, Microsoft.Extensions.Time.Testing.FakeTimeProvider? time = null, Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? configure = null)
    {
        UpstreamUnderTest upstream = await UpstreamUnderTest.StartAsync((fake ?? []).Select(f => "--Fake:" + f).ToArray());
        var data = new TempDirectory();
        string[] settings = host(upstream.BaseUrl).Select(h => "--" + h).ToArray();
        HostUnderTest started = configure is null
            ? await HostUnderTest.StartAsync(data.Path, upstream.BaseUrl, time, settings)
            : await HostUnderTest.StartConfiguredAsync(data.Path, upstream.BaseUrl, configure, settings);
        return new RelayRig(data, upstream, started);
    }

    /// <summary>A Messages call the way Anthropic's SDKs make it: <c>x-api-key</c>, <c>anthropic-version</c>.</summary>
    public Task<HttpResponseMessage> MessagesAsync(string key, string json, string path = "/v1/messages", string? beta = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (beta is not null)
        {
            request.Headers.Add("anthropic-beta", beta);
        }

        return Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>A user with <paramref name="wallet"/> units and a key on it (extra fields merged into the token body).</summary>
    public async Task<(int Token, string Key)> KeyAsync(long wallet = 10_000_000, object? policy = null)
    {
        int user = await Host.CreateUserAsync(wallet);
        return policy is null
            ? await Host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000_000 })
            : await Host.CreateTokenAsync(new { user_id = user, remain_quota = 1_000_000_000, quota_policy = policy });
    }

    public Task<HttpResponseMessage> PostAsync(string key, string json, string path = "/v1/chat/completions") =>
        PostBytesAsync(key, Encoding.UTF8.GetBytes(json), path);

    public Task<HttpResponseMessage> PostBytesAsync(string key, byte[] body, string path = "/v1/chat/completions", CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>The key once nothing is reserved on it any more (the relay finished its reservation), within ~30 s.</summary>
    public async Task<JsonElement> SettledTokenAsync(int token)
    {
        JsonElement view = default;
        for (int attempt = 0; attempt < 600; attempt++)
        {
            view = await Host.GetJsonAsync($"/api/tokens/{token}");
            if (view.GetProperty("reserved_quota").GetInt64() == 0)
            {
                return view;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"the key still holds a reservation: {view}");
        return view;
    }

    /// <summary>The newest consume log rows of a key (waits for the log writer, ~30 s at most).</summary>
    public async Task<JsonElement[]> ConsumeRowsAsync(int token, int expected = 1)
    {
        JsonElement[] rows = [];
        for (int attempt = 0; attempt < 600; attempt++)
        {
            JsonElement page = await Host.GetJsonAsync($"/api/logs?token_id={token}&type=consume&size=100");
            rows = page.GetProperty("items").EnumerateArray().ToArray();
            if (rows.Length >= expected)
            {
                return rows;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"expected {expected} consume rows, found {rows.Length}");
        return rows;
    }

    public static async Task<JsonElement> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
        data.Dispose();
    }
}
