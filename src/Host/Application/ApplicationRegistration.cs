namespace Quota.Host.Application;

/// <summary>
/// Wires the application layer: the one place that decides between one host and a cluster node for the admin API, the
/// console and /me (docs/cluster.md "One code path").
/// </summary>
internal static class ApplicationRegistration
{
    public static IServiceCollection AddQuotaApplication(this IServiceCollection services, bool cluster)
    {
        if (cluster)
        {
            services.AddSingleton<IAccounts, ClusterAccounts>();
        }
        else
        {
            services.AddSingleton<IAccounts, LocalAccounts>();
        }

        services.AddSingleton<KeyService>();
        services.AddSingleton<UserService>();
        services.AddSingleton<Admission>();
        return services;
    }
}
