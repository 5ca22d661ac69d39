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
    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    /// <summary>The body as a mutable object, or the field that is wrong, what is wrong, and the status (400 or 413).</summary>
    public readonly record struct Outcome(JsonObject? Value, string? Field, string? Error, int Status = 400)
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
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new(null, "body", "the request body is larger than the limit", 413);
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

            if (FirstUndecodable(document.RootElement, "") is { } field)
            {
                return new(null, field.Length == 0 ? "body" : field, "contains text that is not valid UTF-8");
            }

            return new(JsonNode.Parse(bytes.Span, documentOptions: DocumentOptions)!.AsObject(), null, null);
        }
        catch (JsonException exception)
        {
            string field = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "body" : exception.Path.TrimStart('$', '.');
            bool duplicate = exception.Message.Contains("duplicate", StringComparison.OrdinalIgnoreCase);
            return new(null, field, duplicate ? "a property name appears twice" : "malformed JSON");
        }
    }

    /// <summary>The path of the first property name or string that cannot be decoded, or null.</summary>
    private static string? FirstUndecodable(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(element) ? null : path;
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    if (FirstUndecodable(item, $"{path}[{index++}]") is { } bad)
                    {
                        return bad;
                    }
                }

                return null;
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path.Length == 0 ? "body" : path;
                    }

                    string child = path.Length == 0 ? name : $"{path}.{name}";
                    if (FirstUndecodable(property.Value, child) is { } bad)
                    {
                        return bad;
                    }
                }

                return null;
            default:
                return null;
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
