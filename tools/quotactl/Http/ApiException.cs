using System.Text.Json;

namespace Quota.Ctl.Http;

/// <summary>
/// The admin API refused a request. Carries the RFC 9457 problem detail the host sent (title, detail and the
/// offending <c>field</c> on a 400), and the raw body for <c>--json</c>.
/// </summary>
internal sealed class ApiException(int status, string? title, string? detail, string? field, string body)
    : Exception($"{status} {title}: {detail}")
{
    public int Status { get; } = status;
    public string? Title { get; } = title;
    public string? Detail { get; } = detail;
    public string? Field { get; } = field;
    public string Body { get; } = body;

    public static ApiException FromResponse(int status, string body)
    {
        string? title = null, detail = null, field = null;
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            JsonElement root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                title = Text(root, "title");
                detail = Text(root, "detail");
                field = Text(root, "field");
                if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object)
                {
                    // The quota API's OpenAI-shaped error, in case a route answers with it.
                    title ??= Text(error, "code");
                    detail ??= Text(error, "message");
                    field ??= Text(error, "param");
                }
            }
        }
        catch (JsonException)
        {
            detail = body.Length > 200 ? body[..200] : body;
        }

        return new ApiException(status, title ?? "error", detail ?? "", field, body);
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
