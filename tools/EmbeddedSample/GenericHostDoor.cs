// The generic-host door of the Quota.Engine.Hosting package, as a worker service uses it: AddQuotaEngine binds and
// validates the "Quota" section, the engine is opened (recovered) when the host starts and snapshotted when it stops.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quota.Engine;
using Quota.Engine.Model;

internal static class GenericHostDoor
{
    public static async Task RunAsync(string dataDir, Action<bool, string> check)
    {
        int user, key;
        using (IHost host = Build(dataDir))
        {
            await host.StartAsync();
            QuotaEngine engine = host.Services.GetRequiredService<QuotaEngine>();
            user = engine.CreateUser(quotaUnits: 1_000).Id;
            key = engine.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 500 }, engine.NowMs).Id;
            ReserveOutcome r = engine.Reserve(key, 25, engine.NowMs);
            engine.Settle(r.Id, 30, engine.NowMs);
            await host.StopAsync(); // commit + snapshot
        }

        using (IHost again = Build(dataDir))
        {
            await again.StartAsync();
            check(again.Services.GetRequiredService<QuotaEngine>().ReadUser(user) is { UsedQuotaUnits: 30 }, "generic host: a stop then a start recovers the books");
            await again.StopAsync();
        }

        using IHost bad = Build(dataDir, ("Quota:ReservationsMax", "100"));
        try
        {
            await bad.StartAsync();
            check(false, "generic host: a bad option stops the start");
        }
        catch (OptionsValidationException e)
        {
            check(e.Message.Contains("Quota:ReservationsMax", StringComparison.Ordinal), "generic host: a bad option stops the start, naming itself");
        }
    }

    private static IHost Build(string dataDir, params (string Key, string Value)[] extra)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        var settings = new Dictionary<string, string?> { ["Quota:DataDir"] = dataDir, ["Quota:KeysMax"] = "16", ["Quota:UsersMax"] = "16", ["Quota:ReservationsMax"] = "1024" };
        foreach ((string k, string v) in extra)
        {
            settings[k] = v;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddQuotaEngine(builder.Configuration.GetSection("Quota"));
        return builder.Build();
    }
}
