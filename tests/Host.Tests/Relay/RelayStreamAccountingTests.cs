using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quota.Host.Relay;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// The relay charges what the upstream reports however it writes its event stream, keeps reading for the usage after
/// the client left, and counts what was produced with the tokenizer when there is no usage.
/// A model priced at 1 unit per token makes units equal tokens.
/// </summary>
public sealed class RelayStreamAccountingTests
{
    private static readonly string[] PerToken = ["Pricing:Models:tok:InputPerMillion=1000000", "Pricing:Models:tok:OutputPerMillion=1000000"];
    private const string Body = """{"model":"tok","stream":true,"max_tokens":9,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Explain SSE, please, in one line."}]}""";

    /// <summary>The usage the fake upstream reports for <see cref="Body"/>.</summary>
    private static (long Prompt, long Completion) FakeUsage()
    {
        JsonObject request = JsonNode.Parse(Body)!.AsObject();
        request["stream"] = false;
        string reply = FakeOpenAi.Respond("chat/completions", request).Chunks.Single();
        JsonNode usage = JsonNode.Parse(reply)!["usage"]!;
        return (usage["prompt_tokens"]!.GetValue<long>(), usage["completion_tokens"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("no_space")]
    [InlineData("float_usage")]
    [InlineData("crlf")]
    [InlineData("cr")]
    [InlineData("multi_line")]
    public async Task AStreamWrittenAnyValidWay_IsSettledFromItsUsage(string misbehave)
    {
        await using RelayRig rig = await RelayRig.StartAsync([$"Misbehave={misbehave}"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Body);
        string sse = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("[DONE]", sse, StringComparison.Ordinal);
        (long prompt, long completion) = FakeUsage();
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal((prompt, completion), (row.GetProperty("prompt_tokens").GetInt64(), row.GetProperty("completion_tokens").GetInt64()));
        Assert.Equal(prompt + completion, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
    }

    [Fact]
    public async Task AClientLeavingRightAfterTheFinishChunk_IsChargedTheUsageThatFollows()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=late_usage", "StallMs=700"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using (HttpResponseMessage response = await rig.PostAsync(key, Body))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line && !line.Contains("finish_reason\":\"stop", StringComparison.Ordinal))
            {
            }
        } // leave before the usage chunk arrives

        (long prompt, long completion) = FakeUsage();
        Assert.Equal(prompt + completion, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.DoesNotContain("counted by the relay", row.GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStreamWithoutUsage_ChargesTheProducedTextInTokenizerTokens()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=omit_usage"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Body);
        string sse = await response.Content.ReadAsStringAsync();

        var produced = new StringBuilder();
        foreach (string line in sse.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal)))
        {
            foreach (JsonNode? choice in JsonNode.Parse(line[6..])!["choices"]!.AsArray())
            {
                produced.Append(choice?["delta"]?["content"]?.GetValue<string>());
            }
        }

        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal(TokenCounter.Count("o200k_base", produced.ToString()), row.GetProperty("completion_tokens").GetInt64());
        Assert.True(row.GetProperty("completion_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task ANonStreamReplyWithoutUsage_ChargesThePromptEstimateAndTheProducedTextInTokens()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["Misbehave=omit_usage"], PerToken);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, Body.Replace("\"stream\":true", "\"stream\":false", StringComparison.Ordinal));
        JsonElement reply = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.False(reply.TryGetProperty("usage", out _));
        string content = reply.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0];
        Assert.Equal(TokenCounter.Count("o200k_base", content), row.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(row.GetProperty("params").GetProperty("estimate_prompt_tokens").GetInt64(), row.GetProperty("prompt_tokens").GetInt64());
        Assert.True(row.GetProperty("completion_tokens").GetInt64() > 0);
    }
}
