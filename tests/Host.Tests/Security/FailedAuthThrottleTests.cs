using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Security;

/// <summary>
/// Guessing keys is slowed per client address (docs/operations.md "Failed authentication"): after the limit, the
/// address gets 429 with Retry-After on everything, its right key included, until the window ends; other addresses
/// are never affected. Here the limit is 3 failures per 4 s window.
/// </summary>
public sealed class FailedAuthThrottleTests : IAsyncLifetime
{
    private const int Limit = 3;
    private readonly TempDirectory data = new();
    private HostUnderTest host = default!;

    public async Task InitializeAsync() =>
        host = await HostUnderTest.StartAsync(data.Path, null, null, $"--Security:FailedAuthLimit={Limit}", "--Security:FailedAuthWindowSeconds=4");

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Theory]
    [InlineData("admin_api")]
    [InlineData("quota_api")]
    [InlineData("relay")]
    public async Task WrongKeys_PastTheLimit_Get429WithRetryAfter_TheRightKeyFromAnotherAddressStillWorks_AndFromThisOneWithinTheWindow(string surface)
    {
        int user = await host.CreateUserAsync();
        (int tokenId, string relayKey) = await host.CreateTokenAsync(new { user_id = user, name = "k", unlimited_quota = true });
        using HttpClient here = SourceAddress.Client(host.Client.BaseAddress!, "127.0.0.1");
        using HttpClient elsewhere = SourceAddress.Client(host.Client.BaseAddress!, "127.0.0.2");
        string wrong = surface == "relay" ? relayKey[..^1] + "x" : HostUnderTest.AdminKey[..^1] + "x";
        string right = surface == "relay" ? relayKey : HostUnderTest.AdminKey;

        for (int attempt = 0; attempt < Limit; attempt++)
        {
            using HttpResponseMessage refused = await CallAsync(here, surface, wrong, tokenId);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (HttpResponseMessage over = await CallAsync(here, surface, wrong, tokenId))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, over.StatusCode); // the failure that crosses the limit is still answered
        }

        using (HttpResponseMessage throttled = await CallAsync(here, surface, right, tokenId))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
            Assert.InRange(throttled.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 4);
            string body = await throttled.Content.ReadAsStringAsync();
            Assert.Contains("too_many_failed_authentications", body, StringComparison.Ordinal);
        }

        using (HttpResponseMessage other = await CallAsync(elsewhere, surface, right, tokenId))
        {
            Assert.True(other.IsSuccessStatusCode, $"another address: {(int)other.StatusCode}");
        }

        // Within the window (4 s here, at most a minute in any configuration) the right key works again from this address.
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        HttpStatusCode status;
        do
        {
            await Task.Delay(200);
            using HttpResponseMessage again = await CallAsync(here, surface, right, tokenId);
            status = again.StatusCode;
        }
        while (status == HttpStatusCode.TooManyRequests && DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, status);
        string metrics = await host.Client.GetStringAsync("/metrics");
        Assert.Contains("quota_auth_failures_total", metrics, StringComparison.Ordinal);
        Assert.Contains($"surface=\"{surface}\"", metrics, StringComparison.Ordinal);
        Assert.Contains("quota_auth_throttled_total", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestsWithoutACredential_AreNotCountedAsFailures()
    {
        for (int attempt = 0; attempt < 3 * Limit; attempt++)
        {
            using HttpResponseMessage refused = await host.Client.GetAsync("/api/tokens");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using HttpResponseMessage admin = await host.Admin.GetAsync("/api/tokens");
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    private static Task<HttpResponseMessage> CallAsync(HttpClient client, string surface, string key, int tokenId)
    {
        HttpRequestMessage request = surface switch
        {
            "admin_api" => new HttpRequestMessage(HttpMethod.Get, "/api/tokens"),
            "quota_api" => new HttpRequestMessage(HttpMethod.Post, "/api/quota/reserve") { Content = JsonContent.Create(new { token_id = tokenId, amount = 1 }) },
            _ => new HttpRequestMessage(HttpMethod.Get, "/v1/quota"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client.SendAsync(request);
    }
}
