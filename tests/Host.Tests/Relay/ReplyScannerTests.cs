using System.Buffers;
using System.Text;
using System.Text.Json;
using Quota.Host.Relay;

namespace Quota.Host.Tests.Relay;

/// <summary>The relay reads usage and produced text from upstream JSON in its bytes, as the tree reading did.</summary>
public sealed class ReplyScannerTests
{
    [Theory]
    [InlineData("100", 100L)]
    [InlineData("100.0", 100L)]
    [InlineData("1e2", 100L)]
    [InlineData("1.00E+2", 100L)]
    [InlineData("0", 0L)]
    [InlineData("12.5", null)]
    [InlineData("-3", null)]
    [InlineData("\"12\"", null)]
    [InlineData("null", null)]
    [InlineData("{\"n\":1}", null)]
    public void Usage_numbers_count_when_integral_however_written(string number, long? expected)
    {
        ReplyFacts facts = Read($$$"""{"id":"x","usage":{"prompt_tokens":7,"completion_tokens":{{{number}}},"total_tokens":1}}""");
        Assert.Equal(7, facts.Prompt);
        Assert.Equal(expected, facts.Completion);
        Assert.False(facts.Error);
    }

    [Fact]
    public void A_null_usage_and_no_usage_report_nothing()
    {
        Assert.Equal(new ReplyFacts(null, null, false), Read("""{"usage":null,"choices":[]}"""));
        Assert.Equal(new ReplyFacts(null, null, false), Read("""{"choices":[{"delta":{"content":"hi"}}]}""", stream: true));
    }

    [Fact]
    public void An_error_object_is_reported()
    {
        Assert.True(Read("""{"error":{"message":"overloaded"}}""", stream: true).Error);
        Assert.False(Read("""{"error":null}""", stream: true).Error);
    }

    [Fact]
    public void Produced_text_of_a_delta_is_every_text_field_unescaped()
    {
        var produced = new ArrayBufferWriter<byte>();
        const string Chunk = """
            {"choices":[{"index":0,"delta":{"role":"assistant","content":"h\u00e9llo ","refusal":"no","reasoning_content":"hm",
            "tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\":1}"}}],"function_call":{"name":"g","arguments":"[]"}}},
            {"delta":{"content":null}},{"message":{"content":"not a delta"}}]}
            """;
        Read(Chunk, stream: true, produced);
        Assert.Equal("héllo nohmf{\"a\":1}g[]", Encoding.UTF8.GetString(produced.WrittenSpan));
    }

    [Fact]
    public void Produced_text_of_a_reply_is_its_messages()
    {
        var produced = new ArrayBufferWriter<byte>();
        Read("""{"choices":[{"message":{"content":"one"}},{"message":{"content":"two"}},{"delta":{"content":"not a message"}}]}""", stream: false, produced);
        Assert.Equal("onetwo", Encoding.UTF8.GetString(produced.WrittenSpan));
    }

    [Fact]
    public void A_reply_split_over_many_segments_reads_the_same()
    {
        byte[] json = Encoding.UTF8.GetBytes("""{"choices":[{"message":{"content":"split text"}}],"usage":{"prompt_tokens":100.0,"completion_tokens":5}}""");
        for (int size = 1; size <= 8; size++)
        {
            var produced = new ArrayBufferWriter<byte>();
            ReplyFacts facts = ReplyScanner.Read(Segmented(json, size), stream: false, produced);
            Assert.Equal(new ReplyFacts(100, 5, false), facts);
            Assert.Equal("split text", Encoding.UTF8.GetString(produced.WrittenSpan));
        }
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    public void A_value_that_is_not_an_object_is_refused(string json) =>
        Assert.Throws<InvalidDataException>(() => Read(json));

    [Theory]
    [InlineData("{\"usage\":{\"prompt_tokens\":1}")]
    [InlineData("{\"a\":1} trailing")]
    [InlineData("{\"a\":1}{\"b\":2}")]
    [InlineData("<html>")]
    [InlineData("")]
    public void Broken_json_is_refused(string json)
    {
        Exception thrown = Record.Exception(() => Read(json));
        Assert.True(thrown is JsonException, $"{json}: {thrown?.GetType().Name ?? "nothing thrown"}");
    }

    [Fact]
    public void Text_that_is_not_utf8_is_refused_when_it_is_read()
    {
        byte[] json = [.. "{\"choices\":[{\"delta\":{\"content\":\""u8, 0xC3, 0x28, .. "\"}}]}"u8];
        Assert.Throws<InvalidDataException>(() => ReplyScanner.Read(new ReadOnlySequence<byte>(json), stream: true, new ArrayBufferWriter<byte>()));
    }

    /// <summary>A name the relay reads, given twice in its object: which one the client believes is unknown, so it is malformed.</summary>
    [Theory]
    [InlineData("""{"usage":{"prompt_tokens":1,"completion_tokens":1,"completion_tokens":9}}""", false)]
    [InlineData("""{"usage":{"prompt_tokens":1,"prompt_tokens":1}}""", false)]
    [InlineData("""{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}}""", false)]
    [InlineData("""{"usage":null,"\u0075sage":{"prompt_tokens":2}}""", false)]
    [InlineData("""{"error":null,"error":{"message":"x"}}""", true)]
    [InlineData("""{"choices":[],"choices":[{"delta":{"content":"a"}}]}""", true)]
    [InlineData("""{"choices":[{"delta":{"content":"a"},"delta":{"content":"b"}}]}""", true)]
    [InlineData("""{"choices":[{"message":{"content":"a","content":"b"}}]}""", false)]
    [InlineData("""{"choices":[{"delta":{"refusal":"a","refusal":"b"}}]}""", true)]
    [InlineData("""{"choices":[{"delta":{"tool_calls":[],"tool_calls":[]}}]}""", true)]
    [InlineData("""{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","name":"g"}}]}}]}""", true)]
    [InlineData("""{"choices":[{"delta":{"tool_calls":[{"function":{},"function":{}}]}}]}""", true)]
    [InlineData("""{"choices":[{"message":{"function_call":{"arguments":"1","arguments":"2"}}}]}""", false)]
    public void A_read_name_given_twice_in_its_object_is_broken_json(string json, bool stream)
    {
        Exception thrown = Record.Exception(() => Read(json, stream, new ArrayBufferWriter<byte>()));
        Assert.True(thrown is JsonException, $"{json}: {thrown?.GetType().Name ?? "nothing thrown"}");
    }

    /// <summary>Without a text buffer (a reply that states its usage) the choices are still walked for their names.</summary>
    [Fact]
    public void A_name_given_twice_in_a_message_is_found_without_copying_text()
    {
        byte[] json = Encoding.UTF8.GetBytes("""{"choices":[{"message":{"content":"a","content":"b"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}""");
        Assert.Throws<JsonException>(() => ReplyScanner.Read(new ReadOnlySequence<byte>(json), stream: false, produced: null));
    }

    /// <summary>The same name in different objects is no duplicate: two choices, two calls, usage inside and outside a choice.</summary>
    [Fact]
    public void The_same_name_in_sibling_objects_is_not_a_duplicate()
    {
        var produced = new ArrayBufferWriter<byte>();
        ReplyFacts facts = Read("""
            {"choices":[{"delta":{"content":"a","tool_calls":[{"function":{"name":"f"}},{"function":{"name":"g"}}]}},{"delta":{"content":"b"}}],
            "usage":{"prompt_tokens":3,"completion_tokens":4},"x":{"usage":1,"usage":2}}
            """, stream: true, produced);
        Assert.Equal(new ReplyFacts(3, 4, false), facts);
        Assert.Equal("afgb", Encoding.UTF8.GetString(produced.WrittenSpan));
    }

    /// <summary>Parts of an unexpected kind are skipped, never an exception: the rest is still read.</summary>
    [Theory]
    [InlineData("""{"usage":5,"choices":[{"message":{"content":"ok"}}]}""", false, null, null, "ok")]
    [InlineData("""{"usage":"n/a","choices":[7,"s",null,[1],{"message":"text"},{"message":{"content":"ok"}}]}""", false, null, null, "ok")]
    [InlineData("""{"usage":[1,2],"choices":{"message":{"content":"no"}}}""", false, null, null, "")]
    [InlineData("""{"usage":{"prompt_tokens":"7","completion_tokens":[2]},"choices":[{"message":{"content":3,"refusal":{"a":"b"}}}]}""", false, null, null, "")]
    [InlineData("""{"choices":[{"delta":{"function_call":"f","tool_calls":[3,{"function":"g"},{"function":{"name":1,"arguments":"a"}}]}}],"usage":{"completion_tokens":2}}""", true, null, 2L, "a")]
    [InlineData("""{"choices":[{"delta":{"tool_calls":{"function":{"name":"f"}},"content":"c"}}],"error":"text"}""", true, null, null, "c")]
    public void Parts_of_an_unexpected_kind_are_skipped(string json, bool stream, long? prompt, long? completion, string text)
    {
        var produced = new ArrayBufferWriter<byte>();
        ReplyFacts facts = Read(json, stream, produced);
        Assert.Equal(new ReplyFacts(prompt, completion, false), facts);
        Assert.Equal(text, Encoding.UTF8.GetString(produced.WrittenSpan));
    }

    [Fact]
    public void A_lone_surrogate_escape_is_refused_when_the_text_is_copied_and_passes_when_it_is_not()
    {
        const string Json = """{"choices":[{"message":{"content":"\ud800"}}],"usage":{"completion_tokens":2}}""";
        Assert.Throws<InvalidDataException>(() => Read(Json, stream: false, new ArrayBufferWriter<byte>()));
        Assert.Equal(new ReplyFacts(null, 2, false), Read(Json));
    }

    private static ReplyFacts Read(string json, bool stream = false, ArrayBufferWriter<byte>? produced = null) =>
        ReplyScanner.Read(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)), stream, produced);

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        Segment first = new(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0), last = first;
        for (int at = size; at < bytes.Length; at += size)
        {
            last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
