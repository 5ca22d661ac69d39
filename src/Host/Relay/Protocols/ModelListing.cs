namespace Quota.Host.Relay.Protocols;

/// <summary>One model in Anthropic's list shape.</summary>
public sealed record AnthropicModel(string Type, string Id, string DisplayName, string CreatedAt);

/// <summary>Anthropic's model list: <c>{ data, has_more, first_id, last_id }</c>.</summary>
public sealed record AnthropicModelList(IReadOnlyList<AnthropicModel> Data, bool HasMore, string? FirstId, string? LastId);

/// <summary>
/// <c>GET /v1/models</c>: every priced model, in OpenAI's list shape — or in Anthropic's when the request carries
/// <c>anthropic-version</c> and <c>x-api-key</c>, as Anthropic's SDKs and Claude Code send them.
/// </summary>
internal static class ModelListing
{
    /// <summary>No creation date is known for a configured price: the Unix epoch, in RFC 3339.</summary>
    private const string Unknown = "1970-01-01T00:00:00Z";

    public static IResult Answer(HttpContext context, Pricing pricing)
    {
        string[] models = pricing.Models.Order(StringComparer.Ordinal).ToArray();
        if (context.Request.Headers.ContainsKey("anthropic-version") && context.Request.Headers.ContainsKey("x-api-key"))
        {
            AnthropicModel[] data = models.Select(id => new AnthropicModel("model", id, id, Unknown)).ToArray();
            return TypedResults.Ok(new AnthropicModelList(data, false, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id));
        }

        return TypedResults.Ok(new ModelList("list", models.Select(id => new ModelEntry(id, "model", "quota-engine")).ToArray()));
    }
}
