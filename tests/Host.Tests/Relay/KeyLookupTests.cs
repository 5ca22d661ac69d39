using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// Relay keys are found by their hash in memory: once the start's pass over the labels has ended, an unknown key is
/// refused without reading the store (a flood of made-up keys must not cost a store read each), and keys created or
/// deleted after that pass are still found or refused exactly.
/// </summary>
public sealed class KeyLookupTests : IDisposable
{
    private readonly TempDirectory data = new();

    public void Dispose() => data.Dispose();

    [Fact]
    public async Task AfterThePassOverTheLabels_UnknownKeysReadNoStore_AndKeysWrittenSinceAreExact()
    {
        int user;
        string before;
        await using (HostUnderTest first = await HostUnderTest.StartAsync(data.Path, null))
        {
            user = await first.CreateUserAsync();
            before = (await first.CreateTokenAsync(new { user_id = user, remain_quota = 1000 })).Key;
        }

        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        QuotaRuntime runtime = host.Services.GetRequiredService<QuotaRuntime>();
        await runtime.IndexKeysAsync();
        long readsBefore = runtime.KeyStoreLookups;

        for (int i = 0; i < 2000; i++)
        {
            Assert.Null(runtime.FindTokenByKey(ApiKeys.NewKey()));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await OwnQuotaStatusAsync(host, ApiKeys.NewKey()));
        Assert.Equal(0, runtime.KeyStoreLookups - readsBefore);

        // Labels from before the restart were put by the pass; one created after it, by its write; a delete forgets its key.
        Assert.Equal(HttpStatusCode.OK, await OwnQuotaStatusAsync(host, before));
        (int id, string after) = await host.CreateTokenAsync(new { user_id = user, remain_quota = 1000 });
        Assert.Equal(HttpStatusCode.OK, await OwnQuotaStatusAsync(host, after));
        using (HttpResponseMessage deleted = await host.Admin.DeleteAsync($"/api/tokens/{id}"))
        {
            deleted.EnsureSuccessStatusCode();
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await OwnQuotaStatusAsync(host, after));
        Assert.Equal(0, runtime.KeyStoreLookups - readsBefore);
    }

    private static async Task<HttpStatusCode> OwnQuotaStatusAsync(HostUnderTest host, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quota");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using HttpResponseMessage response = await host.Client.SendAsync(request);
        return response.StatusCode;
    }
}
