using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// A key no reserve can pass is refused before its body is read, with the answer the reserve would give; a prompt of
/// 4 MiB of one letter is estimated at once, not in the hours BPE would take.
/// </summary>
public sealed class RelayPrecheckTests
{
    [Theory]
    [InlineData("disabled", 401, "invalid_api_key", "API key is disabled")]
    [InlineData("deleted", 401, "invalid_api_key", "invalid API key")]
    [InlineData("expired", 401, "invalid_api_key", "API key has expired")]
    [InlineData("empty_wallet", 403, "insufficient_user_quota", "user quota is not enough")]
    [InlineData("empty_budget", 403, "pre_consume_token_quota_failed", "API key quota is not enough")]
    public async Task AKeyNoReserveCanPass_IsRefusedBeforeItsBodyIsRead(string state, int status, string code, string message)
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        int user = await rig.Host.CreateUserAsync(state == "empty_wallet" ? 0 : 10_000_000);
        long expiresAt = state == "expired" ? DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds() : -1;
        (int token, string key) = await rig.Host.CreateTokenAsync(new { user_id = user, remain_quota = state == "empty_budget" ? 0 : 1_000_000, expired_time = expiresAt });
        if (state == "disabled")
        {
            using HttpResponseMessage disabled = await rig.Host.Admin.PutAsJsonAsync($"/api/tokens/{token}", new { status = 2 });
            Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        }
        else if (state == "deleted")
        {
            using HttpResponseMessage deleted = await rig.Host.Admin.DeleteAsync($"/api/tokens/{token}");
            Assert.True(deleted.IsSuccessStatusCode);
        }
        else if (state == "expired")
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
        }

        // Headers that announce a 1 MB body, and no body: only a refusal that does not read it can answer at once
        // (reading it would wait for Kestrel's minimum data rate, 5 s, and answer 408).
        (int answered, string body, TimeSpan took) = await PostHeadersOnlyAsync(rig.Host.Client.BaseAddress!, key, contentLength: 1_000_000);

        Assert.Equal(status, answered);
        JsonElement error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.True(took < TimeSpan.FromSeconds(3), $"answered after {took.TotalMilliseconds:F0} ms");
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
    }

    [Fact]
    public async Task AKeyPausedByItsPolicy_IsRefusedBeforeItsBodyIsRead_With429AndTheRetryHeaders()
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        (int token, string key) = await rig.KeyAsync(policy: new { period_mode = "daily", quota = 1, metric = "requests", exhausted_action = "disable_token" });
        using (HttpResponseMessage first = await rig.PostAsync(key, """{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"""))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        await rig.SettledTokenAsync(token);
        (int answered, string body, TimeSpan took) = await PostHeadersOnlyAsync(rig.Host.Client.BaseAddress!, key, contentLength: 1_000_000);

        Assert.Equal(429, answered);
        Assert.Equal("token_quota_policy_exhausted", JsonDocument.Parse(body[(body.IndexOf('{', StringComparison.Ordinal))..]).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.True(took < TimeSpan.FromSeconds(3), $"answered after {took.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task APromptOf4MiBOfOneLetter_IsEstimatedAndRelayedWithinSeconds()
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        (int token, string key) = await rig.KeyAsync(wallet: 100_000_000);
        const string Head = """{"model":"gpt-4o-mini","max_tokens":1,"messages":[{"role":"user","content":" """;
        const string Tail = "\"}]}";
        string body = Head.TrimEnd() + new string('a', (int)Host.HostRegistration.BodyBytesMax - Head.Length - Tail.Length) + Tail;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var clock = Stopwatch.StartNew();
        using HttpResponseMessage response = await rig.PostBytesAsync(key, Encoding.UTF8.GetBytes(body), cancellationToken: deadline.Token);
        string reply = await response.Content.ReadAsStringAsync(deadline.Token);
        clock.Stop();

        Assert.True(response.StatusCode == HttpStatusCode.OK, reply);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed.TotalSeconds:F1} s");
        JsonElement view = await rig.SettledTokenAsync(token);
        Assert.True(view.GetProperty("used_quota").GetInt64() > 0);
    }

    /// <summary>Sends a relay request's headers announcing <paramref name="contentLength"/> bytes, never the body; returns the answer.</summary>
    private static async Task<(int Status, string Body, TimeSpan Took)> PostHeadersOnlyAsync(Uri host, string key, int contentLength)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, host.Port);
        string head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: {host.Authority}\r\nAuthorization: Bearer {key}\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n";
        var clock = Stopwatch.StartNew();
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var received = new StringBuilder();
        byte[] buffer = new byte[8192];
        TimeSpan took = TimeSpan.Zero;
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, deadline.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
            string text = received.ToString();
            int headersEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headersEnd > 0 && took == TimeSpan.Zero)
            {
                took = clock.Elapsed;
            }

            if (headersEnd > 0 && text.TrimEnd().EndsWith('}') || text.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
            {
                break;
            }
        }

        string response = received.ToString();
        Assert.StartsWith("HTTP/1.1 ", response, StringComparison.Ordinal);
        int status = int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        int start = response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        int json = response.IndexOf('{', start);
        return (status, json < 0 ? "" : response[json..(response.LastIndexOf('}') + 1)], took);
    }
}
