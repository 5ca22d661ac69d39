namespace Quota.Host;

/// <summary>Builds the host; Program runs it, tests start it on a loopback port with their own arguments.</summary>
public static class HostApp
{
    /// <param name="configure">Adjusts services after the defaults (tests inject a fake clock).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
        builder.Services.AddQuotaHost(builder.Configuration);
        configure?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        app.MapQuotaHost();
        return app;
    }
}
