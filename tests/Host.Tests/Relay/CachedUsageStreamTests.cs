using System.Net;
using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// Streams whose provider reports cache reads, cache writes (5 minutes and 1 hour) and reasoning — the fake upstream
/// with <c>Fake:ReportCache</c>, as the agent CLI tests run it — are charged each kind at its own price
/// (docs/relay.md "What is charged"), worked out here from the events the client received.
/// </summary>
public sealed class CachedUsageStreamTests
{
    [Fact]
    public async Task AMessagesStream_IsChargedItsCacheReadsAndBothCacheWrites_EachAtItsPrice()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["ReportCache=true"], ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.MessagesAsync(key, """{"model":"claude-test","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"Say something nice, and then a little more"}]}""");
        JsonElement usage = Events(await response.Content.ReadAsStringAsync()).Last(e => e.GetProperty("type").GetString() == "message_delta").GetProperty("usage");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        long input = usage.GetProperty("input_tokens").GetInt64(), read = usage.GetProperty("cache_read_input_tokens").GetInt64();
        long write5m = usage.GetProperty("cache_creation").GetProperty("ephemeral_5m_input_tokens").GetInt64();
        long write1h = usage.GetProperty("cache_creation").GetProperty("ephemeral_1h_input_tokens").GetInt64();
        long output = usage.GetProperty("output_tokens").GetInt64();
        Assert.True(read > 0 && write5m > 0 && write1h > 0, usage.ToString());
        long expected = ((input * 1_000_000) + (read * 100_000) + (write5m * 1_250_000) + (write1h * 2_000_000) + (output * 5_000_000) + 999_999) / 1_000_000;
        Assert.Equal(expected, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0].GetProperty("params");
        Assert.Equal((input, read, write5m, write1h), (row.GetProperty("input_tokens").GetInt64(), row.GetProperty("cache_read_tokens").GetInt64(),
            row.GetProperty("cache_write_5m_tokens").GetInt64(), row.GetProperty("cache_write_1h_tokens").GetInt64()));
    }

    [Fact]
    public async Task AResponsesStream_IsChargedItsCachedInputAndReasoning_EachAtItsPrice()
    {
        await using RelayRig rig = await RelayRig.StartAsync(["ReportCache=true"], ProviderTests.Claude);
        (int token, string key) = await rig.KeyAsync();

        using HttpResponseMessage response = await rig.PostAsync(key, """{"model":"gpt-test","stream":true,"input":"Say something nice, and then a little more"}""", "/v1/responses");
        JsonElement usage = Events(await response.Content.ReadAsStringAsync()).Single(e => e.GetProperty("type").GetString() == "response.completed").GetProperty("response").GetProperty("usage");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        long input = usage.GetProperty("input_tokens").GetInt64(), cached = usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt64();
        long output = usage.GetProperty("output_tokens").GetInt64(), reasoning = usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt64();
        Assert.True(cached > 0 && reasoning > 0, usage.ToString());
        long expected = (((input - cached) * 1_000_000) + (cached * 100_000) + ((output - reasoning) * 5_000_000) + (reasoning * 4_000_000) + 999_999) / 1_000_000;
        Assert.Equal(expected, (await rig.SettledTokenAsync(token)).GetProperty("used_quota").GetInt64());
        JsonElement row = (await rig.ConsumeRowsAsync(token))[0].GetProperty("params");
        Assert.Equal((input - cached, cached, reasoning), (row.GetProperty("input_tokens").GetInt64(), row.GetProperty("cache_read_tokens").GetInt64(), row.GetProperty("reasoning_tokens").GetInt64()));
    }

    private static JsonElement[] Events(string stream) =>
        stream.Split('\n').Where(line => line.StartsWith("data: {", StringComparison.Ordinal)).Select(line => JsonDocument.Parse(line[6..]).RootElement).ToArray();
}
