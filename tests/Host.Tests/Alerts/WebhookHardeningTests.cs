using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Quota.Host.Alerts;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Alerts;

/// <summary>
/// Deliveries go where they are configured and nowhere else: a redirect is a failed try (the signed body is not sent
/// on), a link-local (cloud metadata) address is refused at start and at connect.
/// </summary>
public sealed class WebhookHardeningTests
{
    private const string Secret = "0123456789abcdef-webhook-secret";

    [Fact]
    public async Task AWebhookThatRedirects_GetsAFailedTry_AndTheSignedBodyNeverReachesTheRedirectTarget()
    {
        await using LoopbackReceiver target = await LoopbackReceiver.StartAsync();
        await using RedirectingServer webhook = await RedirectingServer.StartAsync(target.BaseUrl);
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null, null,
            $"--Alerts:Webhooks:ops:Url={webhook.BaseUrl}/hooks/quota", $"--Alerts:Webhooks:ops:Secret={Secret}",
            "--Alerts:PollMs=20", "--Alerts:RetryBaseMs=20", "--Alerts:RetryMaxSeconds=1");
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 10_000, quota_policy = new { period_mode = "daily", quota = 100 } });

        using (HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 90 }))
        {
            string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
            using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 90 });
            settle.EnsureSuccessStatusCode(); // crosses 80 %
        }

        for (int attempt = 0; attempt < 500 && webhook.Hits < 3; attempt++)
        {
            await Task.Delay(20);
        }

        Assert.True(webhook.Hits >= 3, $"the webhook was tried {webhook.Hits} times: a redirect must be retried as a failure");
        Assert.Empty(target.Accepted);
        Assert.Equal(1, host.Services.GetRequiredService<AlertDispatcher>().Pending); // still to deliver, not marked delivered
    }

    [Fact]
    public async Task AWebhookAtALinkLocalAddress_StopsTheHostAtStart_UnlessAllowed()
    {
        using var data = new TempDirectory();
        string[] webhook = ["--Alerts:Webhooks:meta:Url=http://169.254.169.254/latest/meta-data", $"--Alerts:Webhooks:meta:Secret={Secret}"];
        OptionsValidationException refused = await Assert.ThrowsAsync<OptionsValidationException>(() => HostUnderTest.StartAsync(data.Path, null, null, webhook));
        Assert.Contains("Alerts:AllowLinkLocal", refused.Message, StringComparison.Ordinal);

        await using HostUnderTest allowed = await HostUnderTest.StartAsync(data.Path, null, null, [.. webhook, "--Alerts:AllowLinkLocal=true"]);
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data")]
    [InlineData("http://[fe80::1]/")]
    [InlineData("http://[::ffff:169.254.169.254]/")]
    public async Task TheDeliveryTransport_RefusesALinkLocalAddress_BeforeConnecting(string url)
    {
        using var client = new HttpClient(WebhookTransport.Create(allowLinkLocal: false)) { Timeout = TimeSpan.FromSeconds(30) };
        HttpRequestException refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync(url, new StringContent("{}")));
        Assert.Contains("link-local", refused.Message + refused.InnerException?.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("169.254.0.1", true)]
    [InlineData("169.253.255.255", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("fd00:ec2::254", true)]
    [InlineData("fd00:ec2::253", false)]
    [InlineData("fe80::abcd", true)]
    [InlineData("::1", false)]
    public void LinkLocal_IsTheMetadataRange(string address, bool linkLocal) =>
        Assert.Equal(linkLocal, WebhookTransport.IsLinkLocal(IPAddress.Parse(address)));
}
