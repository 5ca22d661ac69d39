using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Time.Testing;
using Quota.FakeUpstream;

namespace Quota.Host.Tests.Support;

/// <summary>The real host on a loopback port (real Kestrel, real FASTER log and LiteDB file in a temp directory).</summary>
internal sealed class HostUnderTest : IAsyncDisposable
{
    public const string AdminKey = "sk-admin-Hq3v8RkT2mZp7WcXy4Ld9NfBs6Je1UaG"; // passes the admin key rule (docs/operations.md "Admin key")
    private readonly WebApplication app;

    private HostUnderTest(WebApplication app, string baseUrl)
    {
        this.app = app;
        // No response draining: a test that stops reading a stream really disconnects.
        Client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = new Uri(baseUrl) };
        // A long 100-continue wait: on a loaded machine the default 1 s lets a client start sending a body the host refuses.
        Admin = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromSeconds(30) }) { BaseAddress = new Uri(baseUrl) };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
    }

    /// <summary>Anonymous client (relay calls add their key per request).</summary>
    public HttpClient Client { get; }

    /// <summary>Client carrying the admin key.</summary>
    public HttpClient Admin { get; }

    /// <summary>The host's services (tests read its runtime and background services).</summary>
    public IServiceProvider Services => app.Services;

    public static Task<HostUnderTest> StartAsync(string dataDir, string? upstreamBaseUrl, FakeTimeProvider? time = null, params string[] extra) =>
        StartConfiguredAsync(dataDir, upstreamBaseUrl, time is null ? null : services => services.AddSingleton<TimeProvider>(time), extra);

    /// <param name="configure">Adjusts the host's services after the defaults (a fake clock, a faulty log).</param>
    public static async Task<HostUnderTest> StartConfiguredAsync(string dataDir, string? upstreamBaseUrl, Action<IServiceCollection>? configure, params string[] extra)
    {
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            $"--Quota:DataDir={dataDir}",
            $"--Quota:AdminKey={AdminKey}",
            $"--Relay:Upstream:BaseUrl={upstreamBaseUrl ?? ""}",
            "--Logging:LogLevel:Default=Warning",
            .. extra,
        ];
        WebApplication app = HostApp.Build(args, configure);
        await app.StartAsync();
        return new HostUnderTest(app, BoundAddress(app));
    }

    public static string BoundAddress(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    public async Task<int> CreateUserAsync(long quota = 10_000_000)
    {
        using HttpResponseMessage response = await Admin.PostAsJsonAsync("/api/users", new { name = "alice", quota });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }

    /// <summary>Creates a key; returns (id, key).</summary>
    public async Task<(int Id, string Key)> CreateTokenAsync(object body)
    {
        using HttpResponseMessage response = await Admin.PostAsJsonAsync("/api/tokens", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, text);
        JsonElement token = JsonDocument.Parse(text).RootElement;
        return (token.GetProperty("id").GetInt32(), token.GetProperty("key").GetString()!);
    }

    public async Task<JsonElement> GetJsonAsync(string path) => await Admin.GetFromJsonAsync<JsonElement>(path);

    public Task<HttpResponseMessage> ChatAsync(string key, object body, string? acceptLanguage = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (acceptLanguage is not null)
        {
            request.Headers.AcceptLanguage.ParseAdd(acceptLanguage);
        }

        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Admin.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>tools/FakeUpstream on a loopback port.</summary>
internal sealed class UpstreamUnderTest : IAsyncDisposable
{
    private readonly WebApplication app;

    private UpstreamUnderTest(WebApplication app) => this.app = app;

    public string BaseUrl => HostUnderTest.BoundAddress(app) + "/v1";

    public static async Task<UpstreamUnderTest> StartAsync(params string[] extra)
    {
        WebApplication app = FakeUpstreamApp.Build(["--urls", "http://127.0.0.1:0", .. extra]);
        await app.StartAsync();
        return new UpstreamUnderTest(app);
    }

    /// <summary>The last request the fake received: its headers (lower-case names), ":path" (with the query), ":body" and the fake's answer, ":reply" (a stream's events as sent).</summary>
    public async Task<Dictionary<string, string>> LastAsync()
    {
        using var client = new HttpClient();
        return (await client.GetFromJsonAsync<Dictionary<string, string>>(HostUnderTest.BoundAddress(app) + "/last"))!;
    }

    public async Task<long> RequestsAsync()
    {
        using var client = new HttpClient();
        return (await client.GetFromJsonAsync<JsonElement>(HostUnderTest.BoundAddress(app) + "/stats")).GetProperty("requests").GetInt64();
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>A fresh directory, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "quota-host-tests", Guid.NewGuid().ToString("N"));

    public TempDirectory() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
