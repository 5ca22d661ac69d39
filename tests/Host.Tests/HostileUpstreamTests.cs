using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// Attacks from both ends of the relay: an upstream whose JSON names a field twice (the parser the relay reads it with
/// threw outside every handler: a 500, and a stream already delivered was refunded), a client that leaves before the
/// upstream's first byte (the upstream's work is still charged), and a client that sends fewer body bytes than it
/// announced (408, nothing held or written, never a 500).
/// </summary>
public sealed class HostileUpstreamTests
{
    private static readonly string[] PerToken = ["Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"];
    private const string Chat = """{"model":"tok","max_tokens":20,"messages":[{"role":"user","content":"Say something nice"}]}""";
    private const string Stream = """{"model":"tok","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"Say something nice"}]}""";

    [Fact]
    public Task AReplyWhoseUsageNamesAFieldTwice_Is502AndRefunded_NotA500() => BrokenReplyIs502AndRefundedAsync("duplicate_usage");

    [Fact]
    public async Task AStreamWhoseUsageNamesAFieldTwice_EndsWithAnErrorEvent_AndChargesWhatWasProduced()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=duplicate_usage"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Stream);
        string body = await response.Content.ReadAsStringAsync(); // before the fix: the connection was cut (no error event)

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"code\":\"upstream_error\"", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.True(row.GetProperty("completion_tokens").GetInt64() > 1, row.ToString()); // counted, neither refunded nor the planted 1
        Assert.True(view.GetProperty("used_quota").GetInt64() > 0);
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    /// <summary>
    /// usage, a choice, a message, a call that is not an object: the relay read them with the string indexer, which
    /// throws on an array or a value — a 500 for a reply, and a stream already delivered was refunded and cut.
    /// Such parts are ignored; a reply whose usage is unusable is charged by counting what it produced.
    /// </summary>
    [Fact]
    public async Task AReplyWithPartsOfTheWrongShape_IsChargedByCountingWhatItProduced()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=odd_shapes"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.True(row.GetProperty("params").GetProperty("counted").GetBoolean());
        Assert.True(row.GetProperty("completion_tokens").GetInt64() > 0, row.ToString());
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AStreamEventWithPartsOfTheWrongShape_IsPassedOn_AndTheUsageChunkIsCharged()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=odd_shapes"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Stream);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("upstream_error", body, StringComparison.Ordinal);
        Assert.Contains("data: [DONE]", body, StringComparison.Ordinal);
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.False(row.GetProperty("params").GetProperty("counted").GetBoolean()); // the upstream's usage chunk
        Assert.Equal(20, row.GetProperty("completion_tokens").GetInt64()); // the fake produces max_tokens
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    /// <summary>
    /// A reply without usage whose text cannot be decoded (a lone surrogate escape) is found only when the text is
    /// copied out for counting: that second pass is a broken upstream like the first, never an unhandled 500.
    /// </summary>
    [Fact]
    public Task AReplyWithoutUsageWhoseTextCannotBeDecoded_Is502AndRefunded_NotA500() => BrokenReplyIs502AndRefundedAsync("lone_surrogate");

    /// <summary>A non-stream reply the fake upstream breaks as <paramref name="misbehaviour"/>: 502 upstream_error, nothing charged.</summary>
    private static async Task BrokenReplyIs502AndRefundedAsync(string misbehaviour)
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=" + misbehaviour], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Chat);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_error", (await RelayRig.ErrorAsync(response)).GetProperty("code").GetString());
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.Equal(0, view.GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData(Chat)]
    [InlineData(Stream)]
    public async Task AClientLeavingBeforeTheUpstreamsFirstByte_IsStillChargedTheUpstreamsUsage(string json)
    {
        await using RelayRig rig = await RelayRig.StartAsync(["LatencyMs=1500"], [.. PerToken, "Relay:Upstream:UsageGraceSeconds=60"]);
        (int token, string key) = await rig.KeyAsync();
        using var leave = new CancellationTokenSource();

        Task<HttpResponseMessage> pending = rig.PostBytesAsync(key, Encoding.UTF8.GetBytes(json), cancellationToken: leave.Token);
        for (int attempt = 0; attempt < 600 && await rig.Upstream.RequestsAsync() == 0; attempt++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, await rig.Upstream.RequestsAsync()); // the upstream is working on it: now the client goes
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);

        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal("Ok", row.GetProperty("params").GetProperty("settle").GetString());
        Assert.False(row.GetProperty("params").GetProperty("counted").GetBoolean()); // the upstream's own usage, read after the client left
        Assert.True(row.GetProperty("quota").GetInt64() > 0);
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    /// <summary>
    /// A client that announces more body than it sends and then waits: Kestrel gives up on the body (its minimum data
    /// rate, after a 5 s grace) and the answer is its 408 — it was a 500 (the exception escaped to the handler).
    /// </summary>
    [Theory]
    [InlineData("/v1/chat/completions", "relay")]
    [InlineData("/api/quota/reserve", "quota")]
    [InlineData("/api/users", "admin")]
    public async Task ABodyThatStopsShortOfItsContentLength_Is408_NotA500_AndHoldsNothing(string path, string api)
    {
        await using RelayRig rig = await RelayRig.StartAsync(host: PerToken);
        (int token, string key) = await rig.KeyAsync();
        string json = api switch { "quota" => $"{{\"key\":\"{key}\",\"amount\":60}}", "admin" => """{"name":"bob","quota":5}""", _ => Chat };
        byte[] body = Encoding.UTF8.GetBytes(json);
        var address = new Uri(rig.Host.Client.BaseAddress!, path);
        string head = $"POST {address.PathAndQuery} HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {(api == "relay" ? key : HostUnderTest.AdminKey)}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {body.Length + 100}\r\n\r\n";

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(address.Host, address.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        await socket.SendAsync(body); // the whole JSON, but 100 bytes fewer than announced; then the client waits
        string answer = await ReadToEndAsync(socket);

        Assert.True(answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer);
        JsonElement view = await rig.Host.GetJsonAsync($"/api/tokens/{token}");
        Assert.Equal(0, view.GetProperty("reserved_quota").GetInt64());
        Assert.Equal(0, view.GetProperty("used_quota").GetInt64());
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
        using HttpResponseMessage bob = await rig.Host.Admin.GetAsync("/api/users/2");
        Assert.Equal(HttpStatusCode.NotFound, bob.StatusCode); // the key's owner is user 1: no second user was created
    }

    /// <summary>What the host answered until it closed the connection (bounded: 30 s).</summary>
    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var text = new StringBuilder();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, bounded.Token)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }
}
