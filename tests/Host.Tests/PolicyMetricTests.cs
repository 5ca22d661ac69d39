using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>
/// Request and token limits and model-scoped budgets as a client sees them, over real Kestrel with tools/FakeUpstream:
/// the 429s name the kind of limit, the RateLimit headers name each applicable policy by its metric, and the OpenAI
/// x-ratelimit-* headers carry the tightest requests and tokens policy.
/// </summary>
public sealed class PolicyMetricTests : IAsyncDisposable
{
    // The fake upstream counts prompts with another tokenizer than the relay's estimate: its usage is not the estimate.
    private static readonly string[] Gpt4o = ["gpt-4o"];
    private static readonly string[] Gpt4Family = ["gpt-4*"];
    private static readonly string[] Gpt4AndO1 = ["gpt-4*", "o1"];
    private static readonly string[] UpstreamCountsDifferently = ["Tokenizer=cl100k_base"];
    private const string ChinesePrompt = "今天天气很好，我们去公园散步吧。请给我讲一个关于龙和凤凰的长故事，越详细越好。";
    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-06-27T03:55:00Z", CultureInfo.InvariantCulture));
    private RelayRig? rig;

    public async ValueTask DisposeAsync()
    {
        if (rig is not null)
        {
            await rig.DisposeAsync();
        }
    }

    private async Task<RelayRig> StartAsync(string[]? fake = null) => rig = await RelayRig.StartAsync(fake, time: time);

    private static object Chat(string model = "gpt-4o-mini", int maxTokens = 10, string content = "Say something nice please") =>
        new { model, max_tokens = maxTokens, messages = new[] { new { role = "user", content } } };

    private static async Task<(int Token, string Key)> KeyAsync(RelayRig r, params object[] policies) =>
        await r.Host.CreateTokenAsync(new { user_id = await r.Host.CreateUserAsync(), remain_quota = 100_000_000, quota_policies = policies });

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? string.Join(", ", values) : null;

    private static async Task<string> MessageAsync(HttpResponseMessage response)
    {
        JsonElement error = await RelayRig.ErrorAsync(response);
        Assert.Equal("token_quota_policy_exhausted", error.GetProperty("code").GetString());
        return error.GetProperty("message").GetString()!;
    }

    private static async Task<HttpResponseMessage> OkAsync(Task<HttpResponseMessage> call)
    {
        HttpResponseMessage response = await call;
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return response;
    }

    [Fact]
    public async Task AnRpmPolicy_AdmitsNRequestsAMinute_Then429WithRetryAfterWithinTheMinute_AndOpenAiHeaders()
    {
        RelayRig r = await StartAsync();
        (_, string key) = await KeyAsync(r, new { period_mode = "custom", custom_minutes = 1, metric = "requests", quota = 3 });

        for (int i = 1; i <= 3; i++)
        {
            using HttpResponseMessage ok = await OkAsync(r.Host.ChatAsync(key, Chat()));
            Assert.Equal("\"requests-custom-1m\";q=3;w=60", Header(ok, "RateLimit-Policy"));
            Assert.Equal($"\"requests-custom-1m\";r={3 - i};t=60", Header(ok, "RateLimit"));
            Assert.Equal("3", Header(ok, "x-ratelimit-limit-requests"));
            Assert.Equal((3 - i).ToString(CultureInfo.InvariantCulture), Header(ok, "x-ratelimit-remaining-requests"));
            Assert.Equal("1m0s", Header(ok, "x-ratelimit-reset-requests"));
            Assert.Null(Header(ok, "x-ratelimit-limit-tokens")); // no tokens policy on this key
        }

        time.Advance(TimeSpan.FromSeconds(20));
        using HttpResponseMessage refused = await r.Host.ChatAsync(key, Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        string message = await MessageAsync(refused);
        Assert.StartsWith("API key request rate limit reached and is expected to automatically recover around 2026-06-27T03:56:00+00:00", message, StringComparison.Ordinal);
        Assert.DoesNotContain("3", message.Replace("2026-06-27T03:56:00+00:00", "", StringComparison.Ordinal), StringComparison.Ordinal); // no amounts
        Assert.Equal(TimeSpan.FromSeconds(40), refused.Headers.RetryAfter?.Delta);
        Assert.Null(Header(refused, "x-should-retry"));
        Assert.Equal("\"requests-custom-1m\";r=0;t=40", Header(refused, "RateLimit"));
        Assert.Equal(("3", "0", "40s"), (Header(refused, "x-ratelimit-limit-requests"), Header(refused, "x-ratelimit-remaining-requests"), Header(refused, "x-ratelimit-reset-requests")));
        Assert.Equal(3, await r.Upstream.RequestsAsync()); // the refusal never reached the upstream

        time.Advance(TimeSpan.FromSeconds(40)); // a new minute
        using HttpResponseMessage again = await OkAsync(r.Host.ChatAsync(key, Chat()));
        Assert.Equal("2", Header(again, "x-ratelimit-remaining-requests"));
    }

    [Fact]
    public async Task AStreamedResponse_CarriesTheOpenAiHeaders_CountingItsOwnRequest()
    {
        RelayRig r = await StartAsync();
        (int token, string key) = await KeyAsync(r, new { period_mode = "custom", custom_minutes = 1, metric = "requests", quota = 5 }, new { period_mode = "custom", custom_minutes = 1, metric = "tokens", quota = 10_000 });

        using HttpResponseMessage stream = await OkAsync(r.PostAsync(key, """{"model":"gpt-4o-mini","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"hi"}]}"""));
        string body = await stream.Content.ReadAsStringAsync();

        Assert.Contains("[DONE]", body, StringComparison.Ordinal);
        Assert.Equal(("5", "4"), (Header(stream, "x-ratelimit-limit-requests"), Header(stream, "x-ratelimit-remaining-requests")));
        Assert.Equal("10000", Header(stream, "x-ratelimit-limit-tokens"));
        long remainingTokens = long.Parse(Header(stream, "x-ratelimit-remaining-tokens")!, CultureInfo.InvariantCulture);
        Assert.InRange(remainingTokens, 10_000 - 100, 10_000 - 20); // the estimate is held while the stream runs
        Assert.Equal(1, (await r.SettledTokenAsync(token)).GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task ATpmPolicy_IsChargedTheUpstreamsUsage_NotTheEstimate_AndRefusesOnceTheMinuteIsSpent()
    {
        RelayRig r = await StartAsync(UpstreamCountsDifferently);
        (int token, string key) = await KeyAsync(r, new { period_mode = "custom", custom_minutes = 1, metric = "tokens", quota = 150 });

        using HttpResponseMessage first = await OkAsync(r.Host.ChatAsync(key, Chat(maxTokens: 40, content: ChinesePrompt)));
        JsonElement usage = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("usage");
        long used = usage.GetProperty("prompt_tokens").GetInt64() + usage.GetProperty("completion_tokens").GetInt64();
        JsonElement row = (await r.ConsumeRowsAsync(token))[0].GetProperty("params");
        long estimate = row.GetProperty("estimate_prompt_tokens").GetInt64() + row.GetProperty("estimate_completion_tokens").GetInt64();
        Assert.NotEqual(estimate, used); // so the next line tells usage from estimate
        JsonElement policy = (await r.SettledTokenAsync(token)).GetProperty("quota_policies")[0];
        Assert.Equal(used, policy.GetProperty("used_quota").GetInt64());
        Assert.Equal(("150", (150 - used).ToString(CultureInfo.InvariantCulture), "1m0s"),
            (Header(first, "x-ratelimit-limit-tokens"), Header(first, "x-ratelimit-remaining-tokens"), Header(first, "x-ratelimit-reset-tokens")));
        Assert.Equal($"\"tokens-custom-1m\";r={150 - used};t=60", Header(first, "RateLimit"));

        // Graceful: admitted while used + reserved < 150, so the second request crosses the limit and the third is refused.
        using (await OkAsync(r.Host.ChatAsync(key, Chat(maxTokens: 40, content: ChinesePrompt))))
        {
        }

        await r.SettledTokenAsync(token);
        time.Advance(TimeSpan.FromSeconds(1));
        using HttpResponseMessage refused = await r.Host.ChatAsync(key, Chat(maxTokens: 40, content: ChinesePrompt), "zh-TW");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("API key Token 用量已達上限，預計將在約 2026-06-27T03:56:00+00:00 自動恢復", await MessageAsync(refused));
        Assert.Equal(TimeSpan.FromSeconds(59), refused.Headers.RetryAfter?.Delta);
        Assert.Equal(("0", "59s"), (Header(refused, "x-ratelimit-remaining-tokens"), Header(refused, "x-ratelimit-reset-tokens")));
    }

    [Fact]
    public async Task AScopedSpendPolicy_BlocksItsModel_WhileAnotherModelStillWorks_InChinese()
    {
        RelayRig r = await StartAsync();
        (_, string key) = await KeyAsync(
            r,
            new { period_mode = "daily", quota = 50, models = Gpt4o, time_zone = "Asia/Shanghai" },
            new { period_mode = "weekly", quota = 1_000_000 });

        using HttpResponseMessage first = await OkAsync(r.Host.ChatAsync(key, Chat("gpt-4o"))); // ≥ 50 units: exhausts the scoped policy
        Assert.StartsWith("\"quota-daily\";q=50;w=86400, \"quota-weekly\";q=1000000;w=604800", Header(first, "RateLimit-Policy"), StringComparison.Ordinal);
        Assert.Null(Header(first, "x-ratelimit-limit-requests")); // spend policies have no OpenAI counterpart

        using HttpResponseMessage zh = await r.Host.ChatAsync(key, Chat("gpt-4o"), "zh-CN");
        Assert.Equal(HttpStatusCode.TooManyRequests, zh.StatusCode);
        Assert.Equal("API key 模型 gpt-4o 的额度已达上限，预计将在约 2026-06-28T11:55:00+08:00 自动恢复", await MessageAsync(zh));
        Assert.Equal("false", Header(zh, "x-should-retry")); // a day away: as for every far reset
        Assert.Null(zh.Headers.RetryAfter);
        using HttpResponseMessage en = await r.Host.ChatAsync(key, Chat("gpt-4o"));
        Assert.StartsWith("API key quota for model gpt-4o reached and is expected to automatically recover around 2026-06-28T11:55:00+08:00", await MessageAsync(en), StringComparison.Ordinal);

        using HttpResponseMessage other = await OkAsync(r.Host.ChatAsync(key, Chat("gpt-4o-mini")));
        Assert.Equal("\"quota-weekly\";q=1000000;w=604800", Header(other, "RateLimit-Policy")); // only the policies that apply to it
    }

    [Fact]
    public async Task AKeyWithRpmTpmAndAScopedBudget_RefusesByWhicheverRunsOut_AllOrNothing()
    {
        RelayRig r = await StartAsync();
        (int token, string key) = await KeyAsync(
            r,
            new { period_mode = "custom", custom_minutes = 1, metric = "requests", quota = 2 },
            new { period_mode = "custom", custom_minutes = 1, metric = "tokens", quota = 100_000 },
            new { period_mode = "daily", quota = 50, models = Gpt4o });

        using HttpResponseMessage first = await OkAsync(r.Host.ChatAsync(key, Chat("gpt-4o")));
        Assert.Equal("\"requests-custom-1m\";q=2;w=60, \"tokens-custom-1m\";q=100000;w=60, \"quota-daily\";q=50;w=86400", Header(first, "RateLimit-Policy"));
        Assert.Equal(("2", "1"), (Header(first, "x-ratelimit-limit-requests"), Header(first, "x-ratelimit-remaining-requests")));
        Assert.Equal("100000", Header(first, "x-ratelimit-limit-tokens"));

        using HttpResponseMessage scoped = await r.Host.ChatAsync(key, Chat("gpt-4o"));
        Assert.Equal(HttpStatusCode.TooManyRequests, scoped.StatusCode);
        Assert.Contains("quota for model gpt-4o reached", await MessageAsync(scoped), StringComparison.Ordinal);
        Assert.Equal("1", Header(scoped, "x-ratelimit-remaining-requests")); // the refusal took no request

        using HttpResponseMessage second = await OkAsync(r.Host.ChatAsync(key, Chat("gpt-4o-mini")));
        Assert.Equal("\"requests-custom-1m\";q=2;w=60, \"tokens-custom-1m\";q=100000;w=60", Header(second, "RateLimit-Policy"));
        Assert.Equal("0", Header(second, "x-ratelimit-remaining-requests"));

        time.Advance(TimeSpan.FromSeconds(15));
        using HttpResponseMessage rate = await r.Host.ChatAsync(key, Chat("gpt-4o-mini"));
        Assert.Equal(HttpStatusCode.TooManyRequests, rate.StatusCode);
        Assert.Contains("request rate limit reached", await MessageAsync(rate), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(45), rate.Headers.RetryAfter?.Delta);
        Assert.Equal("45s", Header(rate, "x-ratelimit-reset-requests"));

        time.Advance(TimeSpan.FromSeconds(45));
        using (await OkAsync(r.Host.ChatAsync(key, Chat("gpt-4o-mini"))))
        {
        }

        using HttpResponseMessage stillScoped = await r.Host.ChatAsync(key, Chat("gpt-4o"));
        Assert.Equal(HttpStatusCode.TooManyRequests, stillScoped.StatusCode);
        JsonElement policies = (await r.SettledTokenAsync(token)).GetProperty("quota_policies");
        Assert.Equal(1, policies[0].GetProperty("used_quota").GetInt64()); // the new minute's one request
        Assert.Equal(3, await r.Upstream.RequestsAsync()); // no refusal reached the upstream
    }

    [Fact]
    public async Task OwnQuotaAndTheAdminToken_ShowMetricAndModels()
    {
        RelayRig r = await StartAsync();
        (int token, string key) = await KeyAsync(
            r,
            new { period_mode = "custom", custom_minutes = 1, metric = "requests", quota = 60 },
            new { period_mode = "daily", quota = 5000, models = Gpt4AndO1 });

        JsonElement admin = (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies");
        Assert.Equal(("requests", 0), (admin[0].GetProperty("metric").GetString(), admin[0].GetProperty("models").GetArrayLength()));
        Assert.Equal(("quota", "gpt-4*,o1"), (admin[1].GetProperty("metric").GetString(), string.Join(',', admin[1].GetProperty("models").EnumerateArray().Select(m => m.GetString()))));

        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quota");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using HttpResponseMessage own = await r.Host.Client.SendAsync(request);
        JsonElement policies = (await own.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("policies");
        Assert.Equal(("requests", "custom", 60), (policies[0].GetProperty("metric").GetString(), policies[0].GetProperty("period_mode").GetString(), policies[0].GetProperty("remaining").GetInt32()));
        Assert.Equal(("quota", "o1"), (policies[1].GetProperty("metric").GetString(), policies[1].GetProperty("models")[1].GetString()));
        Assert.Equal("\"requests-custom-1m\";q=60;w=60, \"quota-daily\";q=5000;w=86400", Header(own, "RateLimit-Policy")); // every policy of the key
        Assert.Equal("60", Header(own, "x-ratelimit-remaining-requests"));
    }

    [Fact]
    public async Task TheQuotaApi_ReservesTokensOnTheModelsPolicies_SettlesTheActualTokens_AndItsRefusalsCarryTheHeaders()
    {
        RelayRig r = await StartAsync();
        (int token, string key) = await KeyAsync(r, new { period_mode = "custom", custom_minutes = 1, metric = "tokens", quota = 1000, models = Gpt4Family, boundary_mode = "strict_pre_check" });

        using HttpResponseMessage reserved = await r.Host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10, model = "gpt-4o", tokens = 800 });
        string id = (await reserved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
        Assert.Equal(800, (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies")[0].GetProperty("reserved_quota").GetInt64());
        using HttpResponseMessage unscoped = await r.Host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10, model = "claude-3", tokens = 800 });
        Assert.Equal(HttpStatusCode.OK, unscoped.StatusCode); // the policy does not apply to that model

        using HttpResponseMessage tooMany = await r.Host.Admin.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10, model = "gpt-4.1", tokens = 300 });
        Assert.Equal(HttpStatusCode.TooManyRequests, tooMany.StatusCode);
        Assert.StartsWith("This request needs more than the API key's token limit for model gpt-4.1 has left in this period", await MessageAsync(tooMany), StringComparison.Ordinal);
        Assert.Equal(("1000", "200", "1m0s"), (Header(tooMany, "x-ratelimit-limit-tokens"), Header(tooMany, "x-ratelimit-remaining-tokens"), Header(tooMany, "x-ratelimit-reset-tokens")));
        Assert.Equal("\"tokens-custom-1m\";q=1000;w=60", Header(tooMany, "RateLimit-Policy"));

        using HttpResponseMessage settled = await r.Host.Admin.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 12, tokens = 350 });
        Assert.Equal(HttpStatusCode.OK, settled.StatusCode);
        Assert.Equal(350, (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies")[0].GetProperty("used_quota").GetInt64());
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o","tokens":-1}""", "tokens")]
    [InlineData("""{"model":"gpt-4o","tokens":"many"}""", "tokens")]
    [InlineData("""{"model":7}""", "model")]
    public async Task TheQuotaApi_RefusesABadModelOrTokens_NamingTheField(string extra, string field)
    {
        RelayRig r = await StartAsync();
        (int token, _) = await KeyAsync(r, new { period_mode = "custom", custom_minutes = 1, metric = "tokens", quota = 1000 });
        string json = extra.Replace("{", "{\"token_id\":" + token.ToString(CultureInfo.InvariantCulture) + ",\"amount\":5,", StringComparison.Ordinal);

        using HttpResponseMessage response = await r.Host.Admin.PostAsync("/api/quota/reserve", new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(field, (await RelayRig.ErrorAsync(response)).GetProperty("param").GetString());
        Assert.Equal(0, (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64());
    }

    [Theory]
    [InlineData("""{"period_mode":"daily","quota":10,"models":[""]}""", "quota_policy.models")]
    [InlineData("""{"period_mode":"daily","quota":10,"models":["gpt-4o",""]}""", "quota_policy.models")]
    [InlineData("""{"period_mode":"daily","quota":10,"models":[null]}""", "quota_policy.models")]
    [InlineData("""{"period_mode":"custom","custom_minutes":1,"quota":10}""", "quota_policy.custom_minutes")]
    [InlineData("""{"period_mode":"custom","custom_minutes":1,"quota":10,"metric":"quota"}""", "quota_policy.custom_minutes")]
    [InlineData("""{"period_mode":"custom","custom_minutes":0,"quota":10,"metric":"requests"}""", "quota_policy.custom_minutes")]
    [InlineData("""{"period_mode":"daily","quota":10,"metric":"rpm"}""", "quota_policy.metric")]
    [InlineData("""{"period_mode":"daily","quota":10,"metric":""}""", "quota_policy.metric")]
    [InlineData("""{"period_mode":"daily","quota":10,"metric":"Requests"}""", "quota_policy.metric")]
    [InlineData("""{"period_mode":"daily","quota":10,"models":"gpt-4o"}""", "quota_policy.models")]
    public async Task ABadMetricOrScope_Is400NamingTheField_OnCreateAndUpdate_AndChangesNothing(string policy, string field)
    {
        RelayRig r = await StartAsync();
        int user = await r.Host.CreateUserAsync();
        (int token, _) = await r.Host.CreateTokenAsync(new { user_id = user, remain_quota = 1000 });

        using HttpResponseMessage created = await r.Host.Admin.PostAsync("/api/tokens", Json($$"""{"user_id":{{user}},"quota_policy":{{policy}}}"""));
        using HttpResponseMessage updated = await r.Host.Admin.PutAsync($"/api/tokens/{token}", Json($$"""{"quota_policies":[{"period_mode":"daily","quota":10},{{policy}}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
        Assert.Equal(field, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, updated.StatusCode);
        Assert.Equal(field.Replace("quota_policy", "quota_policies[1]", StringComparison.Ordinal), (await updated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("field").GetString());
        Assert.Equal(1, (await r.Host.GetJsonAsync("/api/tokens")).GetProperty("total").GetInt32());
        Assert.Equal(0, (await r.Host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("quota_policies").GetArrayLength());
    }

    [Fact]
    public async Task PauseAndResetRows_NameTheMetric()
    {
        RelayRig r = await StartAsync();
        (int token, string key) = await KeyAsync(r, new { period_mode = "custom", custom_minutes = 1, metric = "requests", quota = 1, exhausted_action = "disable_token" });
        using (await OkAsync(r.Host.ChatAsync(key, Chat())))
        {
        }

        await r.SettledTokenAsync(token);
        using HttpResponseMessage reset = await r.Host.Admin.PostAsync($"/api/tokens/{token}/quota_policy/reset", null);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);

        JsonElement[] rows = [];
        for (int attempt = 0; attempt < 600 && rows.Count(row => row.GetProperty("action").GetString()!.StartsWith("token.", StringComparison.Ordinal)) < 2; attempt++)
        {
            await Task.Delay(50); // besides the pause and the reset, the window's 80 % and 100 % alerts are system rows too
            rows = (await r.Host.GetJsonAsync($"/api/logs?token_id={token}&type=system")).GetProperty("items").EnumerateArray().ToArray();
        }

        JsonElement paused = rows.Single(row => row.GetProperty("action").GetString() == "token.quota_policy.exhausted_disable");
        JsonElement manual = rows.Single(row => row.GetProperty("action").GetString() == "token.quota_policy.manual_reset");
        Assert.Equal("requests", paused.GetProperty("params").GetProperty("metric").GetString());
        Assert.Contains("policy 1 (Requests) used 1 of 1", paused.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal("requests", manual.GetProperty("params").GetProperty("metric").GetString());
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
