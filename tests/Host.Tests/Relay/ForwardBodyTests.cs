using System.Text;
using System.Text.Json.Nodes;
using Quota.Host.Relay;
using Quota.Host.Runtime;

namespace Quota.Host.Tests.Relay;

/// <summary>
/// The forwarded chat body is the client's body with the cap written in: every other field means what it meant
/// (numbers keep their spelling), the cap fields are replaced or added, a stream asks for its usage.
/// </summary>
public sealed class ForwardBodyTests
{
    private const string Client =
        """{"model":"m","temperature":1.0E0,"max_tokens":100,"messages":[{"role":"user","content":"h\u00e9 \"q\""}],"\u006eame":"x","tools":[{"a":[1,2.50,null,true]}],"max_completion_tokens":50}""";

    [Fact]
    public void The_cap_replaces_both_fields_and_everything_else_means_the_same()
    {
        string forwarded = Forward(Client, cap: 12, sendMaxTokens: true, stream: false);
        JsonObject expected = JsonNode.Parse(Client)!.AsObject();
        expected["max_tokens"] = 12;
        expected["max_completion_tokens"] = 12;
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(forwarded)), forwarded);
        Assert.Contains("\"temperature\":1.0E0", forwarded, StringComparison.Ordinal); // copied as written, not re-printed
        Assert.Contains("[1,2.50,null,true]", forwarded, StringComparison.Ordinal);
        Assert.Single(Occurrences(forwarded, "\"max_tokens\""));
    }

    [Fact]
    public void Max_tokens_is_removed_for_a_model_that_does_not_take_it()
    {
        JsonObject forwarded = JsonNode.Parse(Forward(Client, cap: 7, sendMaxTokens: false, stream: false))!.AsObject();
        Assert.False(forwarded.ContainsKey("max_tokens"));
        Assert.Equal(7, forwarded["max_completion_tokens"]!.GetValue<long>());
    }

    [Fact]
    public void The_cap_is_added_when_the_client_gave_none()
    {
        JsonObject forwarded = JsonNode.Parse(Forward("""{"model":"m","messages":[]}""", cap: 4096, sendMaxTokens: true, stream: false))!.AsObject();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"model":"m","messages":[],"max_completion_tokens":4096,"max_tokens":4096}"""), forwarded));
    }

    [Theory]
    [InlineData("""{"model":"m","stream":true}""", """{"include_usage":true}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":null}""", """{"include_usage":true}""")]
    [InlineData("""{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":[1]}}""", """{"x":[1],"include_usage":true}""")]
    [InlineData("""{"stream_options":{"continuous_usage_stats":true},"model":"m","stream":true}""", """{"continuous_usage_stats":true,"include_usage":true}""")]
    public void A_stream_asks_for_its_usage_and_keeps_its_other_options(string client, string options)
    {
        JsonObject forwarded = JsonNode.Parse(Forward(client, cap: 9, sendMaxTokens: true, stream: true))!.AsObject();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(options), forwarded["stream_options"]), forwarded.ToJsonString());
        Assert.Equal(9, forwarded["max_tokens"]!.GetValue<long>());
    }

    [Fact]
    public void Options_of_a_request_that_does_not_stream_are_passed_as_they_are()
    {
        JsonObject forwarded = JsonNode.Parse(Forward("""{"model":"m","stream_options":{"include_usage":false}}""", cap: 9, sendMaxTokens: true, stream: false))!.AsObject();
        Assert.False(forwarded["stream_options"]!["include_usage"]!.GetValue<bool>());
    }

    [Fact]
    public void Escaped_property_names_keep_their_meaning()
    {
        JsonObject forwarded = JsonNode.Parse(Forward("""{"\u006dodel":"m","a\"b\\c":1,"\u00e9":2}""", cap: 1, sendMaxTokens: false, stream: false))!.AsObject();
        Assert.Equal("m", forwarded["model"]!.GetValue<string>());
        Assert.Equal(1, forwarded["a\"b\\c"]!.GetValue<int>());
        Assert.Equal(2, forwarded["é"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("""{"model":"m","max_tokens":1,"max_tokens":99999}""", "max_tokens")]
    [InlineData("""{"model":"m","stream_options":{"include_usage":false,"include_usage":true}}""", "stream_options.include_usage")]
    public void A_body_with_a_duplicate_field_is_refused_before_it_is_rewritten(string client, string field)
    {
        StrictJson.Outcome outcome = StrictJson.Parse(Encoding.UTF8.GetBytes(client));
        Assert.False(outcome.IsOk);
        Assert.Equal(field, outcome.Field);
        Assert.True(outcome.Bytes.IsEmpty);
    }

    [Fact]
    public void A_valid_body_hands_back_its_own_bytes_for_the_rewrite()
    {
        byte[] client = Encoding.UTF8.GetBytes(Client);
        StrictJson.Outcome outcome = StrictJson.Parse(client);
        Assert.True(outcome.IsOk);
        Assert.True(outcome.Bytes.Span.SequenceEqual(client));
    }

    private static string Forward(string client, long cap, bool sendMaxTokens, bool stream) =>
        Encoding.UTF8.GetString(ForwardBody.Write(Encoding.UTF8.GetBytes(client), cap, sendMaxTokens, stream).Span);

    private static IEnumerable<int> Occurrences(string text, string part)
    {
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal))
        {
            yield return at;
        }
    }
}
