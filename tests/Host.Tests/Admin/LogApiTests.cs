using System.Net.Http.Json;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Admin;

/// <summary>GET /api/logs renders the stored structured events: content in the reader's language, params from the fields.</summary>
public sealed class LogApiTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = null!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    [Fact]
    public async Task APause_IsRenderedInTheReadersLanguage_WithTheSameActionAndParams()
    {
        (int token, string key) = await host.CreateTokenAsync(new
        {
            user_id = await host.CreateUserAsync(), name = "paused-key", remain_quota = 10_000,
            quota_policy = new { period_mode = "daily", quota = 100, exhausted_action = "disable_token" },
        });
        using (HttpResponseMessage reserve = await host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10 }))
        {
            string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
            using HttpResponseMessage settle = await host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 120 });
            settle.EnsureSuccessStatusCode();
        }

        JsonElement en = await SystemRowAsync(token, "en");
        JsonElement zh = await SystemRowAsync(token, "zh-CN,zh;q=0.9");
        JsonElement tw = await SystemRowAsync(token, "zh-TW");

        Assert.Equal(("system", "token.quota_policy.exhausted_disable"), (en.GetProperty("type").GetString(), en.GetProperty("action").GetString()));
        Assert.Contains("“paused-key” was temporarily disabled", en.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("已暂时禁用", zh.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("已暫時停用", tw.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("La clé « paused-key » a été suspendue temporairement", (await SystemRowAsync(token, "fr-FR,fr;q=0.9")).GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("キー「paused-key」を一時停止しました", (await SystemRowAsync(token, "ja")).GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("Ключ «paused-key» временно отключён", (await SystemRowAsync(token, "ru-RU")).GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("Khóa “paused-key” đã bị tạm thời vô hiệu hóa", (await SystemRowAsync(token, "vi")).GetProperty("content").GetString(), StringComparison.Ordinal);
        JsonElement p = en.GetProperty("params");
        Assert.Equal((120L, 100L, 0L, "quota"), (p.GetProperty("used_quota").GetInt64(), p.GetProperty("quota").GetInt64(), p.GetProperty("policy_index").GetInt64(), p.GetProperty("metric").GetString()));
        Assert.True(p.GetProperty("next_reset_at").GetInt64() > en.GetProperty("created_time").GetInt64());
    }

    [Theory]
    [InlineData("type=nonsense")]
    [InlineData("action=token.quota_policy.nonsense")]
    public async Task AFilterThatNamesNoKind_IsAnEmptyPage(string filter)
    {
        JsonElement page = await host.GetJsonAsync($"/api/logs?{filter}");
        Assert.Equal((0, 0), (page.GetProperty("items").GetArrayLength(), page.GetProperty("total").GetInt32()));
    }

    private async Task<JsonElement> SystemRowAsync(int token, string language)
    {
        for (int attempt = 0; attempt < 600; attempt++) // the log writer stores rows in batches, shortly after the change
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/logs?token_id={token}&type=system");
            request.Headers.AcceptLanguage.ParseAdd(language);
            using HttpResponseMessage response = await host.Admin.SendAsync(request);
            JsonElement items = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items");
            if (items.GetArrayLength() > 0)
            {
                return items[0];
            }

            await Task.Delay(25);
        }

        throw new Xunit.Sdk.XunitException("no system row was written");
    }
}
