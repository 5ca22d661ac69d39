using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quota.Host.Runtime;

/// <summary>
/// Reads a request body as a JSON object that means one thing: duplicate property names and text that is not
/// valid UTF-8 (or escapes that decode to broken UTF-16) are refused with the path of the offending field,
/// before anything is reserved — a body two parsers could read differently is never priced by one and
/// forwarded to the other.
/// </summary>
public static class StrictJson
{
    // Duplicates are allowed while parsing so the walk below can name the path of the first one.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// The body as a mutable object (and its bytes, as sent: a relay forwards those), or the field that is wrong,
    /// what is wrong, and the status (400, or Kestrel's own refusal: 408, 413).
    /// </summary>
    public readonly record struct Outcome(JsonObject? Value, string? Field, string? Error, int Status = 400, ReadOnlyMemory<byte> Bytes = default)
    {
        public bool IsOk => Error is null;
    }

    public static async Task<Outcome> ReadObjectAsync(HttpRequest request)
    {
        byte[] bytes;
        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false);
            bytes = buffer.ToArray();
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel refused the body as it came in: too large (413), too slow (408), cut short or a broken chunk (400).
            // Its status is the answer; left to propagate, the exception handler made every one of them a 500.
            return new(null, "body", JsonBody.BodyRefusal(exception.StatusCode), exception.StatusCode);
        }

        return Parse(bytes);
    }

    public static Outcome Parse(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return new(null, "body", "a JSON object is required");
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes, DocumentOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return new(null, "body", "a JSON object is required");
            }

            if (FirstProblem(document.RootElement, "") is ({ } field, { } problem))
            {
                return new(null, field.Length == 0 ? "body" : field, problem);
            }

            return new(JsonNode.Parse(bytes.Span, documentOptions: DocumentOptions)!.AsObject(), null, null, Bytes: bytes);
        }
        catch (JsonException exception)
        {
            string field = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "body" : exception.Path.TrimStart('$', '.');
            return new(null, field, "malformed JSON");
        }
    }

    private const string Undecodable = "contains text that is not valid UTF-8";

    /// <summary>The path of the first string or property name that cannot be decoded, or of the first duplicate property.</summary>
    private static (string? Field, string? Problem) FirstProblem(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(element) ? default : (path, Undecodable);
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    if (FirstProblem(item, $"{path}[{index++}]") is ({ } field, { } problem))
                    {
                        return (field, problem);
                    }
                }

                return default;
            case JsonValueKind.Object:
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return (path, Undecodable);
                    }

                    string child = path.Length == 0 ? name : $"{path}.{name}";
                    if (!names.Add(name))
                    {
                        return (child, "appears twice in one object");
                    }

                    if (FirstProblem(property.Value, child) is ({ } field, { } problem))
                    {
                        return (field, problem);
                    }
                }

                return default;
            default:
                return default;
        }
    }

    private static bool Decodes(JsonElement text)
    {
        try
        {
            _ = text.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
