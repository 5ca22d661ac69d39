using System.Text.Json;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests;

/// <summary>The OpenAPI document describes every response body of every route (typed results and response records).</summary>
public sealed class OpenApiTests
{
    [Fact]
    public async Task EveryResponseWithABody_HasASchema()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        JsonElement document = await host.GetJsonAsync("/openapi/v1.json");
        var missing = new List<string>();
        int responses = 0;
        foreach (JsonProperty path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (JsonProperty operation in path.Value.EnumerateObject())
            {
                foreach (JsonProperty response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    if (response.Name == "204")
                    {
                        continue;
                    }

                    responses++;
                    bool described = response.Value.TryGetProperty("content", out JsonElement content) &&
                        content.EnumerateObject().Any() && content.EnumerateObject().All(media => media.Value.TryGetProperty("schema", out _));
                    if (!described)
                    {
                        missing.Add($"{operation.Name.ToUpperInvariant()} {path.Name} {response.Name}");
                    }
                }
            }
        }

        Assert.True(responses > 40, $"only {responses} responses documented");
        Assert.True(missing.Count == 0, "responses without a schema: " + string.Join("; ", missing));
    }

    [Theory]
    [InlineData("PolicyInput")]
    [InlineData("PolicyResponse")]
    [InlineData("OwnPolicy")]
    public async Task EveryPolicySchema_ShowsMetricAndModels(string schema)
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        JsonElement schemas = (await host.GetJsonAsync("/openapi/v1.json")).GetProperty("components").GetProperty("schemas");

        Assert.True(schemas.TryGetProperty(schema, out JsonElement found), "schemas: " + string.Join(", ", schemas.EnumerateObject().Select(p => p.Name)));
        JsonElement properties = found.GetProperty("properties");
        Assert.True(properties.TryGetProperty("metric", out JsonElement metric), properties.ToString());
        Assert.Contains("requests", metric.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("prefix*", properties.GetProperty("models").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayKeys_AreInTheDocument_WithTheKeyOnlyAsAField()
    {
        using var data = new TempDirectory();
        await using HostUnderTest host = await HostUnderTest.StartAsync(data.Path, null);
        JsonElement document = await host.GetJsonAsync("/openapi/v1.json");
        JsonElement paths = document.GetProperty("paths");

        JsonElement collection = paths.GetProperty("/api/gateway_keys");
        Assert.True(collection.TryGetProperty("post", out JsonElement create), collection.ToString());
        Assert.True(create.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(collection.TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/gateway_keys/{id}").TryGetProperty("delete", out _));
        JsonElement response = document.GetProperty("components").GetProperty("schemas").GetProperty("GatewayKeyResponse").GetProperty("properties");
        foreach (string field in new[] { "id", "name", "key", "key_preview", "created_time" })
        {
            Assert.True(response.TryGetProperty(field, out _), field);
        }
    }
}
