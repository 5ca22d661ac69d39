using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quota.Clients.Tests.Support;

/// <summary>
/// The usage a provider's stream reported, by token kind (<see cref="Output"/> without reasoning), read the way each
/// protocol documents it, and what it costs at a model's prices (docs/relay.md "What is charged"): the expected charge,
/// worked out from the provider's own numbers rather than from the relay's reading of them.
/// </summary>
internal sealed record ReportedUsage(long Input, long CacheRead, long CacheWrite5m, long CacheWrite1h, long Output, long Reasoning)
{
    /// <summary>Anthropic Messages: <c>message_start.message.usage</c>, then each <c>message_delta.usage</c> (cumulative: a number replaces the last).</summary>
    public static ReportedUsage OfMessagesStream(string events)
    {
        var usage = new JsonObject();
        foreach (JsonObject data in Events(events))
        {
            JsonNode? reported = (string?)data["type"] switch
            {
                "message_start" => data["message"]?["usage"],
                "message_delta" => data["usage"],
                _ => null,
            };
            foreach (KeyValuePair<string, JsonNode?> number in reported as JsonObject ?? new JsonObject())
            {
                usage[number.Key] = number.Value?.DeepClone();
            }
        }

        return new ReportedUsage(
            Input: Count(usage["input_tokens"]), CacheRead: Count(usage["cache_read_input_tokens"]),
            CacheWrite5m: Count(usage["cache_creation"]?["ephemeral_5m_input_tokens"]), CacheWrite1h: Count(usage["cache_creation"]?["ephemeral_1h_input_tokens"]),
            Output: Count(usage["output_tokens"]), Reasoning: 0);
    }

    /// <summary>OpenAI Responses: the <c>response.completed</c> event's <c>response.usage</c> (cached and reasoning tokens are parts of input and output).</summary>
    public static ReportedUsage OfResponsesStream(string events)
    {
        JsonNode usage = Events(events).Single(data => (string?)data["type"] == "response.completed")["response"]!["usage"]!;
        long input = Count(usage["input_tokens"]), cached = Count(usage["input_tokens_details"]?["cached_tokens"]);
        long output = Count(usage["output_tokens"]), reasoning = Count(usage["output_tokens_details"]?["reasoning_tokens"]);
        return new ReportedUsage(Input: input - cached, CacheRead: cached, CacheWrite5m: 0, CacheWrite1h: 0, Output: output - reasoning, Reasoning: reasoning);
    }

    /// <summary>ceil(Σ tokens × price per 1M) in units; a kind with tokens must have its price in <paramref name="prices"/>.</summary>
    public long Price(IReadOnlyDictionary<string, long> prices)
    {
        long Cost(long tokens, string price) => tokens == 0 ? 0 : tokens * prices[price];
        long perMillion = Cost(Input, "InputPerMillion") + Cost(CacheRead, "CacheReadPerMillion") + Cost(CacheWrite5m, "CacheWritePerMillion")
            + Cost(CacheWrite1h, "CacheWrite1hPerMillion") + Cost(Output, "OutputPerMillion") + Cost(Reasoning, "ReasoningPerMillion");
        return (perMillion + 999_999) / 1_000_000;
    }

    /// <summary>The consume row carries the protocol, the provider and every kind; its prompt and completion are the sums.</summary>
    public void AssertRecorded(JsonElement row, string protocol, string provider)
    {
        JsonElement parameters = row.GetProperty("params");
        Assert.Equal(protocol, parameters.GetProperty("protocol").GetString());
        Assert.Equal(provider, parameters.GetProperty("provider").GetString());
        Assert.Equal(
            (Input, CacheRead, CacheWrite5m, CacheWrite1h, Reasoning),
            (parameters.GetProperty("input_tokens").GetInt64(), parameters.GetProperty("cache_read_tokens").GetInt64(),
             parameters.GetProperty("cache_write_5m_tokens").GetInt64(), parameters.GetProperty("cache_write_1h_tokens").GetInt64(),
             parameters.GetProperty("reasoning_tokens").GetInt64()));
        Assert.Equal(Input + CacheRead + CacheWrite5m + CacheWrite1h, row.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(Output + Reasoning, row.GetProperty("completion_tokens").GetInt64());
    }

    /// <summary>Every <c>data:</c> line of an event stream that holds a JSON object.</summary>
    private static IEnumerable<JsonObject> Events(string stream) =>
        stream.Split('\n').Where(line => line.StartsWith("data: {", StringComparison.Ordinal)).Select(line => (JsonObject)JsonNode.Parse(line[6..])!);

    private static long Count(JsonNode? node) => node?.GetValue<long>() ?? 0;
}
