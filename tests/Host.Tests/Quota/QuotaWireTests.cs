using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Quota.Host.Runtime;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Quota;

/// <summary>
/// The quota API's bytes on the wire after its hot path was rewritten: the 200 bodies (fields, order, types, length),
/// bodies that arrive in pieces or carry trailing text, and the admin key check that remembers header strings.
/// </summary>
public sealed class QuotaWireTests : IAsyncLifetime
{
    private readonly TempDirectory data = new();
    private HostUnderTest host = null!;

    public async Task InitializeAsync() => host = await HostUnderTest.StartAsync(data.Path, upstreamBaseUrl: null);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        data.Dispose();
    }

    private async Task<(HttpStatusCode Status, string Text, HttpContentHeaders Headers)> PostAsync(string path, string json)
    {
        using HttpResponseMessage response = await host.Admin.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers);
    }

    [Fact]
    public async Task TheOkBodies_HaveTheDocumentedFieldsInOrder_WithAContentLength()
    {
        (_, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });

        (HttpStatusCode status, string reserved, HttpContentHeaders headers) = await PostAsync("/api/quota/reserve", $"{{\"key\":\"{key}\",\"amount\":60}}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/json; charset=utf-8", headers.ContentType!.ToString());
        Assert.Equal(Encoding.UTF8.GetByteCount(reserved), headers.ContentLength);
        JsonElement r = JsonDocument.Parse(reserved).RootElement;
        Assert.Equal(["reservation_id", "amount", "expires_at"], r.EnumerateObject().Select(p => p.Name));
        string id = r.GetProperty("reservation_id").GetString()!;
        Assert.Matches("^[0-9a-f]{16}$", id);
        Assert.Equal(60, r.GetProperty("amount").GetInt64());
        Assert.InRange(r.GetProperty("expires_at").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds());

        (status, string settled, _) = await PostAsync("/api/quota/settle", $"{{\"reservation_id\":\"{id}\",\"amount\":75}}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"{{\"reservation_id\":\"{id}\",\"state\":\"settled\",\"charged\":75,\"exhausted\":false}}", settled);

        string other = JsonDocument.Parse((await PostAsync("/api/quota/reserve", $"{{\"key\":\"{key}\",\"amount\":5}}")).Text).RootElement.GetProperty("reservation_id").GetString()!;
        (status, string refunded, _) = await PostAsync("/api/quota/refund", $"{{\"reservation_id\":\"{other}\"}}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"{{\"reservation_id\":\"{other}\",\"state\":\"refunded\"}}", refunded);
    }

    [Fact]
    public async Task ABodyThatArrivesInPieces_IsReadWhole_AndTrailingTextIsRefused()
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });
        string[] pieces = ["{\"key\":\"", key[..10], key[10..] + "\",\"amo", "unt\":", "42}"];

        (int status, string body) = await RawChunkedPostAsync("/api/quota/reserve", pieces);
        Assert.Equal(200, status);
        Assert.Equal(42, JsonDocument.Parse(body).RootElement.GetProperty("amount").GetInt64());

        // Larger than one buffer segment of the server's pipe: the multi-segment path (unknown fields are ignored).
        (status, body) = await RawChunkedPostAsync("/api/quota/reserve", ["{\"padding\":\"", new string('p', 20_000), "\",\"key\":\"", key, "\",\"amount\":8}"]);
        Assert.Equal(200, status);
        Assert.Equal(8, JsonDocument.Parse(body).RootElement.GetProperty("amount").GetInt64());

        (status, body) = await RawChunkedPostAsync("/api/quota/reserve", ["{\"key\":\"", key, "\",\"amount\":1}", " {}"]);
        Assert.Equal(400, status);
        Assert.Equal("body", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("param").GetString());

        (status, body) = await RawChunkedPostAsync("/api/quota/reserve", ["{\"key\":\"", key, "\",\"amo", "unt\":\"1\"}"]);
        Assert.Equal(400, status);
        Assert.Equal("amount", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(50, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64()); // the refused ones reserved nothing
    }

    [Fact]
    public async Task AWrongAdminKey_IsRefused_AfterTheRightOneOnTheSameConnection()
    {
        (int token, string key) = await host.CreateTokenAsync(new { user_id = await host.CreateUserAsync(), remain_quota = 1000 });
        using var client = new HttpClient { BaseAddress = host.Admin.BaseAddress }; // one pooled connection, sequential calls
        foreach (string admin in new[] { HostUnderTest.AdminKey, HostUnderTest.AdminKey, HostUnderTest.AdminKey + "x", "", HostUnderTest.AdminKey[..^1] })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/quota/reserve") { Content = new StringContent($"{{\"key\":\"{key}\",\"amount\":1}}", Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + admin);
            using HttpResponseMessage response = await client.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            if (admin == HostUnderTest.AdminKey)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                continue;
            }

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        Assert.Equal(2, (await host.GetJsonAsync($"/api/tokens/{token}")).GetProperty("reserved_quota").GetInt64());
    }

    [Fact]
    public void BearerSecret_RemembersOnlyTheStringsThatPassed()
    {
        var secret = new BearerSecret(ApiKeys.SecretHash("s3cret"));
        string good = "Bearer " + "s3cret", bad = "Bearer " + "s3creT";
        Assert.True(secret.Matches(RequestWith(good)));
        Assert.True(secret.Matches(RequestWith(good))); // the remembered instance
        Assert.True(secret.Matches(RequestWith(new string(good.AsSpan())))); // another instance, hashed again
        Assert.False(secret.Matches(RequestWith(bad)));
        Assert.False(secret.Matches(RequestWith(bad)));
        Assert.False(secret.Matches(RequestWith("s3cret"))); // no "Bearer "
        Assert.False(secret.Matches(new DefaultHttpContext().Request));
    }

    private static HttpRequest RequestWith(string authorization)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Authorization = authorization;
        return context.Request;
    }

    /// <summary>A chunked POST whose body is written piece by piece, each flushed after a pause (separate reads on the server).</summary>
    private async Task<(int Status, string Body)> RawChunkedPostAsync(string path, string[] pieces)
    {
        using var content = new PiecewiseContent(pieces);
        using HttpResponseMessage response = await host.Admin.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Unknown length (so chunked), written in pieces with pauses: the body reaches the parser in several segments.</summary>
    private sealed class PiecewiseContent : HttpContent
    {
        private readonly string[] pieces;

        public PiecewiseContent(string[] pieces)
        {
            this.pieces = pieces;
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            foreach (string piece in pieces)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(piece));
                await stream.FlushAsync();
                await Task.Delay(30);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
