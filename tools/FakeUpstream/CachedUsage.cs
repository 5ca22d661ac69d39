using System.Text.Json.Nodes;

namespace Quota.FakeUpstream;

/// <summary>
/// <c>--Fake:ReportCache=true</c>: the usage of every reply re-split the way an agent's later turns are billed — half of
/// the prompt read from the cache, and on Anthropic's Messages a quarter written to the 5-minute cache and an eighth to
/// the 1-hour cache; a third of the output reported as reasoning (OpenAI's protocols). Totals are unchanged, so a
/// client sees the same reply; only the token kinds, and so the price, differ.
/// </summary>
public static class CachedUsage
{
    public static (int Status, string ContentType, IEnumerable<string> Chunks) Apply((int Status, string ContentType, IEnumerable<string> Chunks) reply) =>
        reply.Status != 200 ? reply : (reply.Status, reply.ContentType, reply.Chunks.Select(chunk => Rewrite(chunk, reply.ContentType == "text/event-stream")).ToArray());

    private static string Rewrite(string chunk, bool stream)
    {
        int data = stream ? chunk.IndexOf("data: ", StringComparison.Ordinal) : 0;
        string json = data < 0 ? "" : (stream ? chunk[(data + 6)..] : chunk).TrimEnd();
        if (!json.StartsWith('{') || JsonNode.Parse(json) is not JsonObject body)
        {
            return chunk; // [DONE], a stall marker, a comment
        }

        Split(body);
        return stream ? $"{chunk[..data]}data: {body.ToJsonString()}\n\n" : body.ToJsonString();
    }

    /// <summary>Rewrites every <c>usage</c> object under <paramref name="node"/> (a stream's event nests it in <c>message</c> or <c>response</c>).</summary>
    private static void Split(JsonNode? node)
    {
        if (node is not JsonObject fields)
        {
            return;
        }

        if (fields["usage"] is JsonObject usage)
        {
            SplitUsage(usage);
        }

        foreach (KeyValuePair<string, JsonNode?> field in fields.ToArray())
        {
            if (field.Key != "usage")
            {
                Split(field.Value);
            }
        }
    }

    private static void SplitUsage(JsonObject usage)
    {
        if (usage.ContainsKey("cache_read_input_tokens"))
        {
            long input = Count(usage["input_tokens"]), read = input / 2, write5m = input / 4, write1h = input / 8;
            usage["input_tokens"] = input - read - write5m - write1h;
            usage["cache_read_input_tokens"] = read;
            usage["cache_creation_input_tokens"] = write5m + write1h;
            usage["cache_creation"] = new JsonObject { ["ephemeral_5m_input_tokens"] = write5m, ["ephemeral_1h_input_tokens"] = write1h };
        }
        else if (usage.ContainsKey("input_tokens"))
        {
            usage["input_tokens_details"] = new JsonObject { ["cached_tokens"] = Count(usage["input_tokens"]) / 2 };
            usage["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = Count(usage["output_tokens"]) / 3 };
        }
        else if (usage.ContainsKey("prompt_tokens"))
        {
            usage["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = Count(usage["prompt_tokens"]) / 2 };
            usage["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = Count(usage["completion_tokens"]) / 3 };
        }
    }

    private static long Count(JsonNode? node) => node is JsonValue value && value.TryGetValue(out long count) ? count : 0;
}
