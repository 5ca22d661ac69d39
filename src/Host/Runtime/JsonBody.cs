using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Quota.Host.Runtime;

/// <summary>
/// Reads a JSON request body into a DTO: snake_case, unknown fields ignored, and any malformed JSON or wrong type
/// reported with the path of the offending field instead of an exception.
/// </summary>
public static class JsonBody
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.Strict,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // A body with a field twice means two things (the relay refuses it too: docs/relay.md): never let the last one win.
        AllowDuplicateProperties = false,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(), // what the serializer would pick; set, so GetTypeInfo works before a first call
    };

    /// <summary>The parsed body, or the offending field, what is wrong with it, and the status to answer (400, or 413).</summary>
    public readonly record struct Outcome<T>(T? Value, string? Field, string? Error, int Status = 400)
    {
        public bool IsOk => Error is null;
    }

    /// <summary>
    /// The body is read whole from the request's pipe (Kestrel's size limit applies: 413), then parsed in one synchronous
    /// pass: the bodies are small, and the serializer's streaming mode cost a buffer, a state machine and a copy per
    /// request for nothing (the profile of the quota API showed it). The result and errors are the serializer's, as before.
    /// </summary>
    public static async Task<Outcome<T>> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.ContentLength == 0)
        {
            return new(null, "body", "a JSON body is required");
        }

        PipeReader reader = request.BodyReader;
        ReadResult read;
        try
        {
            while (true)
            {
                read = await reader.ReadAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
                if (read.IsCompleted || read.IsCanceled)
                {
                    break;
                }

                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End); // nothing consumed: wait for the rest
            }
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel refused the body as it came in: too large (413), too slow (408), cut short or a broken chunk (400).
            // Its status is the answer; left to propagate, the exception handler made every one of them a 500.
            return new(null, "body", BodyRefusal(exception.StatusCode), exception.StatusCode);
        }

        try
        {
            return Parse<T>(read.Buffer);
        }
        finally
        {
            reader.AdvanceTo(read.Buffer.End);
        }
    }

    private static Outcome<T> Parse<T>(ReadOnlySequence<byte> body)
        where T : class
    {
        try
        {
            var typeInfo = (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
            T? value = body.IsSingleSegment ? JsonSerializer.Deserialize(body.FirstSpan, typeInfo) : ParseSegments(body, typeInfo);
            return value is null ? new(null, "body", "a JSON object is required") : new(value, null, null);
        }
        catch (JsonException exception)
        {
            string field = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "body" : exception.Path.TrimStart('$', '.');
            return new(null, field, exception.Path is null ? "malformed JSON" : "wrong type or malformed value");
        }
    }

    /// <summary>A body that arrived in several segments is copied once into a pooled buffer (the same parse, the same errors).</summary>
    private static T? ParseSegments<T>(ReadOnlySequence<byte> body, JsonTypeInfo<T> typeInfo)
    {
        int length = checked((int)body.Length);
        byte[] copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            body.CopyTo(copy);
            return JsonSerializer.Deserialize(copy.AsSpan(0, length), typeInfo);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>Why Kestrel refused a body, by the status it gave.</summary>
    internal static string BodyRefusal(int status) => status switch
    {
        StatusCodes.Status413PayloadTooLarge => "the request body is larger than the limit",
        StatusCodes.Status408RequestTimeout => "the request body arrived too slowly",
        _ => "the request body was cut short or malformed",
    };
}
