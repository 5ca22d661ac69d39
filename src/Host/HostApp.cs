namespace Quota.Host;

/// <summary>Builds the host; Program runs it, tests start it on a loopback port with their own arguments.</summary>
public static class HostApp
{
    /// <param name="configure">Adjusts services after the defaults (tests inject a fake clock).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configure = null)
    {
        Runtime.PrivateFiles.RestrictNewFiles(); // before anything is created: the data directory and every file in it are private
        // The content root is the build output, where appsettings.json is: `dotnet run` from the repository root keeps the
        // caller's directory as the working directory (./data lives there), which held no appsettings.json, so its log
        // levels never applied and every request logged several information lines.
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddQuotaHost(builder.Configuration);
        configure?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        app.MapQuotaHost();
        return app;
    }
}
