using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Operations;

/// <summary>
/// Idle connections against the real host process under a 4,096-descriptor limit: past the connection cap they are
/// closed at accept, so the host keeps descriptors for its upstream and stores, answers on the connections it has,
/// and takes new ones again as soon as the flood lets go.
/// </summary>
public sealed class ConnectionFloodTests
{
    private const int DescriptorLimit = 4096;

    [Fact]
    public async Task IdleConnectionFlood_PastTheDescriptorLimit_IsClosedAtAccept_AndTheHostKeepsServing()
    {
        await using UpstreamUnderTest upstream = await UpstreamUnderTest.StartAsync();
        using var data = new TempDirectory();
        using HostProcess host = await HostProcess.StartAsync(data.Path, [$"--Relay:Upstream:BaseUrl={upstream.BaseUrl}"], descriptorsMax: DescriptorLimit);
        string key = await KeyAsync(host.Admin);
        // One connection opened before the flood, kept alive through it (a client already talking to the host).
        using var before = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri(host.BaseUrl),
        };
        Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/healthz")).StatusCode);

        var flood = new List<Socket>();
        try
        {
            await FloodAsync(host.BaseUrl, flood, DescriptorLimit + 300);
            await Task.Delay(1000);
            Assert.False(host.Process.HasExited, "the host died under the flood");
            int closedAtAccept = flood.Count(socket => socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0);
            Assert.True(closedAtAccept > 0, $"none of {flood.Count} idle connections was closed at accept");

            // The connection opened before answers, and a relayed request gets a new upstream socket: descriptors are left.
            using HttpResponseMessage health = await before.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using HttpResponseMessage relayed = await RelayAsync(before, key);
            Assert.Equal(HttpStatusCode.OK, relayed.StatusCode);

            // Half the flood lets go: a new client gets in.
            foreach (Socket socket in flood.Take(flood.Count / 2))
            {
                socket.Dispose();
            }

            using var after = new HttpClient { BaseAddress = new Uri(host.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };
            Assert.Equal(HttpStatusCode.OK, (await after.GetAsync("/healthz")).StatusCode);
            Assert.False(host.Process.HasExited);
        }
        finally
        {
            foreach (Socket socket in flood)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public void DescriptorLimit_IsReadFromTheProcessLimits_AndTheCapLeavesRoomForUpstreamSockets()
    {
        string[] limits =
        [
            "Limit                     Soft Limit           Hard Limit           Units     ",
            "Max open files            4096                 524288               files     ",
        ];
        Assert.Equal(4096, ConnectionLimits.ParseDescriptorLimit(limits));
        Assert.Null(ConnectionLimits.ParseDescriptorLimit(["Max open files            unlimited            unlimited            files"]));
        Assert.Equal((4096 - ConnectionLimits.ReservedDescriptors) / 2, ConnectionLimits.Derive(4096));
        Assert.Equal(ConnectionLimits.ConnectionsMin, ConnectionLimits.Derive(256));
        Assert.Equal(ConnectionLimits.ConnectionsUnknownLimit, ConnectionLimits.Derive(null));
    }

    [Fact]
    public async Task ConnectionsMax_AboveTheDescriptorLimit_StopsTheHostAtStart_NamingTheKey()
    {
        using var data = new TempDirectory();
        long limit = ConnectionLimits.DescriptorLimit() ?? int.MaxValue;
        var start = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            HostUnderTest.StartAsync(data.Path, null, null, $"--Limits:ConnectionsMax={Math.Min(limit + 1, int.MaxValue)}"));
        Assert.Contains("Limits:ConnectionsMax", start.Message, StringComparison.Ordinal);
    }

    /// <summary>Opens idle connections (they send nothing) until <paramref name="count"/> or until the host stops accepting.</summary>
    private static async Task FloodAsync(string baseUrl, List<Socket> flood, int count)
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, new Uri(baseUrl).Port);
        for (int i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await socket.ConnectAsync(endpoint, timeout.Token);
                flood.Add(socket);
            }
            catch (OperationCanceledException)
            {
                socket.Dispose();
                return; // the listen backlog is full: the host no longer accepts
            }
        }
    }

    private static async Task<string> KeyAsync(HttpClient admin)
    {
        using HttpResponseMessage user = await admin.PostAsJsonAsync("/api/users", new { name = "flood", quota = 10_000_000 });
        int userId = (await user.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        using HttpResponseMessage token = await admin.PostAsJsonAsync("/api/tokens", new { user_id = userId, remain_quota = 1_000_000 });
        return (await token.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    private static Task<HttpResponseMessage> RelayAsync(HttpClient client, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client.SendAsync(request);
    }
}
