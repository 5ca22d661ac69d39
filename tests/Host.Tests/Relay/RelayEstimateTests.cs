using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Host.Relay;
using Quota.Host.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// The estimate is a ceiling: every billable part is counted with the model's tokenizer, the smallest completion cap
/// is reserved and written into the forwarded request, and no body the client controls lowers its own estimate.
/// </summary>
public sealed class RelayEstimateTests(ITestOutputHelper output)
{
    private static readonly string[] PerToken = ["Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"];

    private static JsonObject BigTools()
    {
        var properties = new JsonObject();
        for (int i = 0; i < 400; i++)
        {
            properties[$"field_{i}"] = new JsonObject { ["type"] = "string", ["description"] = $"The {i}th field of the record, described at some length so that it costs tokens." };
        }

        return new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "store", ["parameters"] = new JsonObject { ["type"] = "object", ["properties"] = properties } } };
    }

    [Fact]
    public async Task TwelveConcurrentShrunkEstimates_CannotOverspendAStrictPolicyOrTheWallet()
    {
        await using RelayRig rig = await RelayRig.StartAsync();
        int user = await rig.Host.CreateUserAsync(1_000);
        (int token, string key) = await rig.Host.CreateTokenAsync(new
        {
            user_id = user,
            remain_quota = 1_000_000,
            quota_policy = new { period_mode = "daily", quota = 100, boundary_mode = "strict_pre_check" },
        });
        JsonObject tools = BigTools();
        Assert.True(tools.ToJsonString().Length > 40_000);
        string body = new JsonObject
        {
            ["model"] = "gpt-4o-mini",
            ["input"] = null,
            ["max_completion_tokens"] = 1,
            ["max_tokens"] = 4096,
            ["tools"] = new JsonArray(tools),
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "Describe this" },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "https://example.invalid/cat.png" } }),
            }),
        }.ToJsonString();

        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => rig.PostAsync(key, body)));

        // Each estimate is above the strict policy's quota (429). Concurrent reserves hold the wallet for a moment before the
        // policy refuses them and they give it back, so one may also find the wallet taken by the others (403): either
        // way refused, and nothing reaches the upstream or is charged.
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { (HttpStatusCode)429, HttpStatusCode.Forbidden }));
        Assert.Contains(responses, r => r.StatusCode == (HttpStatusCode)429);
        Assert.Equal(0, await rig.Upstream.RequestsAsync());
        JsonElement wallet = await rig.Host.GetJsonAsync($"/api/users/{user}");
        Assert.Equal(0, wallet.GetProperty("used_quota").GetInt64());
        Assert.Equal(0, (await rig.SettledTokenAsync(token)).GetProperty("quota_policy").GetProperty("used_quota").GetInt64());
        foreach (HttpResponseMessage response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task TheSmallestCap_IsReservedAndForwarded_SoTheUpstreamProducesNoMore()
    {
        await using RelayRig rig = await RelayRig.StartAsync(host: PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"tok","max_completion_tokens":1,"max_tokens":4096,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal(1, row.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(1, row.GetProperty("params").GetProperty("estimate_completion_tokens").GetInt64());
        Assert.True(row.GetProperty("quota").GetInt64() <= row.GetProperty("params").GetProperty("estimate").GetInt64());
    }

    [Fact]
    public async Task AnInputFieldOnAChat_DoesNotDropTheCompletionEstimate_AndEveryPartIsCounted()
    {
        await using RelayRig rig = await RelayRig.StartAsync(host: PerToken);
        (int token, string key) = await rig.KeyAsync();
        const string Plain = """{"model":"tok","input":null,"messages":[{"role":"user","content":"hi"}]}""";
        JsonObject withParts = JsonNode.Parse(Plain)!.AsObject();
        withParts["tools"] = new JsonArray(BigTools());
        withParts["messages"]![0]!["content"] = new JsonArray(
            new JsonObject { ["type"] = "text", ["text"] = "hi" },
            new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64,AAAA" } });

        using (await rig.PostAsync(key, Plain))
        {
        }

        using (await rig.PostAsync(key, withParts.ToJsonString()))
        {
        }

        JsonElement[] rows = await rig.ConsumeRowsAsync(token, expected: 2);
        JsonElement plain = rows[1].GetProperty("params"), parts = rows[0].GetProperty("params");
        Assert.Equal(1024, plain.GetProperty("estimate_completion_tokens").GetInt64()); // Pricing:DefaultMaxTokens
        long toolsTokens = TokenCounter.Count("o200k_base", new JsonArray(BigTools()).ToJsonString());
        Assert.True(parts.GetProperty("estimate_prompt_tokens").GetInt64() >= plain.GetProperty("estimate_prompt_tokens").GetInt64() + toolsTokens + 1000);
    }

    public static TheoryData<string> Tokenizers => new() { "o200k_base", "cl100k_base" };

    /// <summary>
    /// Sends a corpus of varied bodies through the relay to a provider that bills with <paramref name="providerTokenizer"/>
    /// (the relay counts with o200k_base). With the same tokenizer no body is charged above its estimate; with a
    /// different one the overrun is the tokenizers' disagreement only, printed and bounded.
    /// </summary>
    [Theory]
    [MemberData(nameof(Tokenizers))]
    public async Task OverACorpusOfVariedBodies_TheActualExceedsTheEstimateOnlyByTheTokenizersDisagreement(string providerTokenizer)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Tokenizer={providerTokenizer}"], PerToken);
        (int token, string key) = await rig.KeyAsync();
        string[] corpus = OverrunCorpus.Bodies();
        foreach (string body in corpus)
        {
            using HttpResponseMessage response = await rig.PostAsync(key, body);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        JsonElement[] rows = (await rig.ConsumeRowsAsync(token, corpus.Length)).Reverse().ToArray(); // oldest first: corpus order
        long worstTokens = long.MinValue;
        double worstRatio = double.MinValue;
        for (int i = 0; i < corpus.Length; i++)
        {
            JsonElement row = rows[i], estimate = rows[i].GetProperty("params");
            Assert.True(row.GetProperty("completion_tokens").GetInt64() <= estimate.GetProperty("estimate_completion_tokens").GetInt64());
            long overrun = row.GetProperty("quota").GetInt64() - estimate.GetProperty("estimate").GetInt64();
            long disagreement = OverrunCorpus.Disagreement(corpus[i], providerTokenizer, "o200k_base");
            Assert.True(overrun <= Math.Max(0, disagreement), $"body {i}: overrun {overrun} tokens, the tokenizers disagree by {disagreement}");
            worstTokens = Math.Max(worstTokens, overrun);
            worstRatio = Math.Max(worstRatio, (double)overrun / estimate.GetProperty("estimate_prompt_tokens").GetInt64());
        }

        output.WriteLine($"provider {providerTokenizer}, relay o200k_base, {rows.Length} bodies: worst overrun {worstTokens} tokens ({worstRatio:P1} of the prompt estimate)");
        if (providerTokenizer == "o200k_base")
        {
            Assert.True(worstTokens <= 0, $"an overrun of {worstTokens} tokens with the same tokenizer");
        }
    }
}
