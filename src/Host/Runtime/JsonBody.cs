using System.Text.Json;
using System.Text.Json.Serialization;

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
    };

    /// <summary>The parsed body, or the offending field, what is wrong with it, and the status to answer (400, or 413).</summary>
    public readonly record struct Outcome<T>(T? Value, string? Field, string? Error, int Status = 400)
    {
        public bool IsOk => Error is null;
    }

    public static async Task<Outcome<T>> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.ContentLength == 0)
        {
            return new(null, "body", "a JSON body is required");
        }

        try
        {
            T? value = await JsonSerializer.DeserializeAsync<T>(request.Body, Options, request.HttpContext.RequestAborted).ConfigureAwait(false);
            return value is null ? new(null, "body", "a JSON object is required") : new(value, null, null);
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new(null, "body", "the request body is larger than the limit", exception.StatusCode);
        }
        catch (JsonException exception)
        {
            string field = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? "body" : exception.Path.TrimStart('$', '.');
            return new(null, field, exception.Path is null ? "malformed JSON" : "wrong type or malformed value");
        }
    }
}
