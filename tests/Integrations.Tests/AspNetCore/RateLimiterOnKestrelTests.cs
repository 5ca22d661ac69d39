using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quota.Engine;
using Quota.Engine.AspNetCore;
using Quota.Engine.Model;
using Quota.Host.Tests.Support;

namespace Quota.Integrations.Tests.AspNetCore;

/// <summary>
/// A minimal-API application as an embedder writes it — AddQuotaEngine, AddRateLimiter(o => o.AddQuotaPolicy(…)),
/// UseRateLimiter — on real Kestrel (loopback, port 0), under concurrent load.
/// </summary>
public sealed class RateLimiterOnKestrelTests : IAsyncLifetime
{
    private const int UnitsPerRequest = 3;
    private readonly TempDirectory data = new();
    private WebApplication app = null!;
    private HttpClient client = null!;
    private int entered;
    private int exited;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration["Quota:DataDir"] = data.Path;
        builder.Configuration["Quota:KeysMax"] = "64";
        builder.Configuration["Quota:UsersMax"] = "64";
        builder.Configuration["Quota:ReservationsMax"] = "1024";
        builder.Services.AddQuotaEngine(builder.Configuration.GetSection("Quota"));
        builder.Services.AddRateLimiter(o => o.AddQuotaPolicy("quota", q =>
        {
            q.KeyResolver = context => int.TryParse(context.Request.Headers["X-Key-Id"], out int id) ? id : 0;
            q.UnitsPerPermit = UnitsPerRequest;
        }));
        app = builder.Build();
        app.UseRateLimiter();
        app.MapPost("/work", (HttpContext context) => context.Features.Get<IQuotaReservationFeature>()!.Settle(UnitsPerRequest).Result.ToString()).RequireRateLimiting("quota");
        app.MapPost("/slow", async (HttpContext context) =>
        {
            Interlocked.Increment(ref entered);
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            finally
            {
                Interlocked.Increment(ref exited);
            }
        }).RequireRateLimiting("quota");
        app.MapGet("/open", () => "not limited");
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        client = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        data.Dispose();
    }

    private QuotaEngine Engine => app.Services.GetRequiredService<QuotaEngine>();

    private (int User, int Key) CreateKey(long wallet, params QuotaPolicySpec[] policies)
    {
        int user = Engine.CreateUser(wallet).Id;
        return (user, Engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = wallet, Policies = policies }, Engine.NowMs).Id);
    }

    private Task<HttpResponseMessage> PostAsync(string path, int key, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Add("X-Key-Id", key.ToString());
        return client.SendAsync(request, cancellationToken);
    }

    [Fact]
    public async Task ConcurrentRequests_AreAdmittedExactlyToTheWindow_AndSettledOnce()
    {
        (int user, int key) = CreateKey(1_000_000, Support.Books.Requests(20));
        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => PostAsync("/work", key)));

        Assert.Equal(20, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(40, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        HttpResponseMessage refused = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.Null(refused.Headers.RetryAfter); // a daily window: SDKs would sleep for hours
        Assert.Equal("false", refused.Headers.GetValues(QuotaRejection.ShouldRetryHeader).Single());
        Assert.Equal(UnitsPerRequest * 20, Engine.ReadUser(user)!.UsedQuotaUnits);
        Assert.Equal(0, Engine.ReadUser(user)!.ReservedQuotaUnits);
        Assert.Equal(20, Engine.ReadToken(key, Engine.NowMs)!.Policies[0].UsedQuotaUnits);
    }

    [Fact]
    public async Task CancelledRequests_LeaveNoReservationOpen()
    {
        (int user, int key) = CreateKey(1_000_000, Support.Books.Requests(1_000));
        using var cts = new CancellationTokenSource();
        Task<HttpResponseMessage>[] inFlight = [.. Enumerable.Range(0, 12).Select(_ => PostAsync("/slow", key, cts.Token))];
        await WaitUntilAsync(() => Volatile.Read(ref entered) == 12);
        Assert.Equal(12 * UnitsPerRequest, Engine.ReadUser(user)!.ReservedQuotaUnits);

        await cts.CancelAsync();
        foreach (Task<HttpResponseMessage> request in inFlight)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }

        await WaitUntilAsync(() => Volatile.Read(ref exited) == 12 && Engine.ReadUser(user)!.ReservedQuotaUnits == 0);
        Assert.Equal(0, Engine.ReadUser(user)!.UsedQuotaUnits);
        Assert.Equal(0, Engine.ReadToken(key, Engine.NowMs)!.ReservedQuotaUnits);
    }

    [Fact]
    public async Task AOneMinuteWindow_AnnouncesRetryAfter_AndAnEmptyWalletIs403WithoutIt()
    {
        (_, int minuteKey) = CreateKey(1_000_000, Support.Books.Requests(1, PeriodMode.Custom, customMinutes: 1));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("/work", minuteKey)).StatusCode);
        HttpResponseMessage limited = await PostAsync("/work", minuteKey);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.InRange(limited.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));

        (_, int poorKey) = CreateKey(UnitsPerRequest - 1);
        HttpResponseMessage poor = await PostAsync("/work", poorKey);
        Assert.Equal(HttpStatusCode.Forbidden, poor.StatusCode);
        Assert.Null(poor.Headers.RetryAfter);
        Assert.Equal("false", poor.Headers.GetValues(QuotaRejection.ShouldRetryHeader).Single());

        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync("/work", key: 0)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/open")).StatusCode); // an endpoint without the policy is not limited
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
