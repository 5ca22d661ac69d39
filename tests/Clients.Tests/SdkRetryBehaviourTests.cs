using System.ClientModel;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OpenAI;
using OpenAI.Chat;
using Quota.Host.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Clients.Tests;

/// <summary>
/// What the OpenAI .NET SDK itself does with a 429, against a stub that always answers one — the reason the relay
/// sends <c>Retry-After</c> only for short waits (README, "Retry-After"). These pin the SDK version's behaviour: if an
/// upgrade changes it, they fail and the rule is re-examined. Elapsed times are printed for the record, never asserted.
/// </summary>
public sealed class SdkRetryBehaviourTests(ITestOutputHelper output) : IAsyncLifetime
{
    private WebApplication stub = null!;
    private int requests;
    private Action<HttpResponse> headers = _ => { };

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        stub = builder.Build();
        stub.MapPost("/v1/chat/completions", (HttpContext context) =>
        {
            Interlocked.Increment(ref requests);
            headers(context.Response);
            return Results.Json(new { error = new { message = "exhausted", type = "quota_error", param = (string?)null, code = "token_quota_policy_exhausted" } }, statusCode: 429);
        });
        await stub.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await stub.StopAsync();
        await stub.DisposeAsync();
    }

    private async Task<(Exception Error, TimeSpan Elapsed)> CallAsync(TimeSpan bound)
    {
        var client = new OpenAIClient(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = new Uri(HostUnderTest.BoundAddress(stub) + "/v1") });
        using var cancel = new CancellationTokenSource(bound);
        long started = Stopwatch.GetTimestamp();
        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => client.GetChatClient("m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: cancel.Token));
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        output.WriteLine($"{error.GetType().Name} after {Volatile.Read(ref requests)} request(s) in {elapsed.TotalSeconds:0.00} s");
        return (error, elapsed);
    }

    [Fact]
    public async Task WithoutRetryAfter_TheSdkRetriesThreeTimesWithItsOwnBackoff_ThenThrowsTheClientResultException()
    {
        (Exception error, _) = await CallAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(429, Assert.IsType<ClientResultException>(error).Status);
        Assert.Equal(4, Volatile.Read(ref requests));
    }

    [Fact]
    public async Task ShouldRetryFalse_IsNotReadByTheDotNetSdk_ItStillRetriesThreeTimes()
    {
        headers = response => response.Headers["x-should-retry"] = "false";

        (Exception error, _) = await CallAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(429, Assert.IsType<ClientResultException>(error).Status);
        Assert.Equal(4, Volatile.Read(ref requests));
    }

    [Fact]
    public async Task AFarRetryAfter_MakesTheSdkSleep_SoOnlyTheCallersOwnBoundEndsTheCall()
    {
        headers = response => response.Headers.RetryAfter = "86095"; // what the relay used to send for a daily policy

        (Exception error, _) = await CallAsync(TimeSpan.FromSeconds(2));

        Assert.IsAssignableFrom<OperationCanceledException>(error);
        Assert.Equal(1, Volatile.Read(ref requests));
    }

    [Fact]
    public async Task AShortRetryAfter_IsHonouredBeforeEachRetry()
    {
        headers = response => response.Headers.RetryAfter = "1";

        (Exception error, TimeSpan elapsed) = await CallAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(429, Assert.IsType<ClientResultException>(error).Status);
        Assert.Equal(4, Volatile.Read(ref requests));
        Assert.True(elapsed >= TimeSpan.FromSeconds(3), $"three waits of Retry-After: 1 s, took {elapsed}"); // a lower bound the SDK must wait, not a speed claim
    }
}
