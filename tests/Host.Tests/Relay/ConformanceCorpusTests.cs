using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// The conformance corpus (Relay/Conformance: recorded replies and corpus.json): each exchange goes through the real
/// relay to the fake provider, which answers it as recorded; the key is charged exactly the expected amount and the
/// consume row records every token kind as expected.
/// </summary>
public sealed class ConformanceCorpusTests(ConformanceCorpusTests.Rig shared) : IClassFixture<ConformanceCorpusTests.Rig>
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Relay", "Conformance");

    /// <summary>One relay and fake provider for the whole corpus (each case uses its own key).</summary>
    public sealed class Rig : IAsyncLifetime
    {
        internal RelayRig Value { get; private set; } = null!;

        public async Task InitializeAsync() =>
            Value = await RelayRig.StartAsync([$"ReplayDir={Path.Combine(Folder, "replies")}"], ProviderTests.Claude);

        public async Task DisposeAsync() => await Value.DisposeAsync();
    }

    public static TheoryData<string> Cases()
    {
        var names = new TheoryData<string>();
        foreach (JsonElement item in Corpus().EnumerateArray())
        {
            names.Add(item.GetProperty("name").GetString()!);
        }

        return names;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EachRecordedExchange_IsChargedExactlyItsExpectedAmount(string name)
    {
        RelayRig rig = shared.Value;
        JsonElement expected = Corpus().EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        string route = expected.GetProperty("route").GetString()!;
        bool stream = File.Exists(Path.Combine(Folder, "replies", name + ".sse"));
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = route == "/v1/messages"
            ? await rig.MessagesAsync(key, Body(route, name, stream))
            : await rig.PostAsync(key, Body(route, name, stream), route);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Number(expected, "error_event") == 1, body.Contains("\"upstream_error\"", StringComparison.Ordinal));
        JsonElement view = await rig.SettledTokenAsync(token);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        JsonElement details = row.GetProperty("params");
        long prompt = row.GetProperty("prompt_tokens").GetInt64();
        if (expected.TryGetProperty("estimate_plus", out JsonElement plus))
        {
            Assert.Equal(details.GetProperty("estimate_prompt_tokens").GetInt64(), prompt);
            Assert.Equal(prompt + plus.GetInt64(), view.GetProperty("used_quota").GetInt64());
        }
        else
        {
            Assert.Equal(expected.GetProperty("prompt").GetInt64(), prompt);
            Assert.Equal(expected.GetProperty("charge").GetInt64(), view.GetProperty("used_quota").GetInt64());
        }

        Assert.Equal(expected.GetProperty("completion").GetInt64(), row.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(Number(expected, "cache_read"), details.GetProperty("cache_read_tokens").GetInt64());
        Assert.Equal(Number(expected, "cache_write_5m"), details.GetProperty("cache_write_5m_tokens").GetInt64());
        Assert.Equal(Number(expected, "cache_write_1h"), details.GetProperty("cache_write_1h_tokens").GetInt64());
        Assert.Equal(Number(expected, "reasoning"), details.GetProperty("reasoning_tokens").GetInt64());
        Assert.Equal(Number(expected, "counted") == 1, details.GetProperty("counted").GetBoolean());
        Assert.Equal(row.GetProperty("quota").GetInt64(), view.GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task ATokensPolicy_CountsWhatTheProvidersOwnLimitsCount_AnthropicLeavesCacheReadsOut()
    {
        RelayRig rig = shared.Value;
        (int token, string key) = await rig.KeyAsync(policy: new { period_mode = "daily", metric = "tokens", quota = 1_000_000 });

        using (HttpResponseMessage messages = await rig.MessagesAsync(key, Body("/v1/messages", "m_cache_read_stream", stream: true)))
        {
            await messages.Content.ReadAsStringAsync();
        }

        long afterMessages = (await rig.SettledTokenAsync(token)).GetProperty("quota_policy").GetProperty("used_quota").GetInt64();
        using (HttpResponseMessage responses = await rig.PostAsync(key, Body("/v1/responses", "r_cache_read_stream", stream: true), "/v1/responses"))
        {
            await responses.Content.ReadAsStringAsync();
        }

        long afterResponses = (await rig.SettledTokenAsync(token)).GetProperty("quota_policy").GetProperty("used_quota").GetInt64();
        Assert.Equal(3 + 12, afterMessages); // uncached input + output; the 8,000 cache reads are not in Anthropic's input limit
        Assert.Equal(2_000 + 20, afterResponses - afterMessages); // OpenAI counts every input token, cached ones too
    }

    private static string Body(string route, string name, bool stream)
    {
        string common = $$"""
            "stream":{{(stream ? "true" : "false")}},"metadata":{"replay":"{{name}}"}
            """;
        return route switch
        {
            "/v1/messages" => $$"""{"model":"claude-test","max_tokens":1000,{{common}},"messages":[{"role":"user","content":"corpus"}]}""",
            "/v1/responses" => $$"""{"model":"gpt-test","max_output_tokens":1000,{{common}},"input":"corpus"}""",
            _ => $$"""{"model":"gpt-test","max_tokens":1000,{{common}},"messages":[{"role":"user","content":"corpus"}]}""",
        };
    }

    /// <summary>A number of the case (true = 1), 0 when absent.</summary>
    private static long Number(JsonElement item, string name) =>
        !item.TryGetProperty(name, out JsonElement value) ? 0 : value.ValueKind switch
        {
            JsonValueKind.True => 1,
            JsonValueKind.Number => value.GetInt64(),
            _ => 0,
        };

    private static JsonElement Corpus() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "corpus.json"))).RootElement.GetProperty("cases");
}
