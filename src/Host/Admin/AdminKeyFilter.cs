using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>
/// Refuses admin API requests without the admin bearer key (compared in constant time), with problem details. The quota
/// API checks the key in its own handlers and answers in the OpenAI error shape (<c>Quota/QuotaApi.cs</c>).
/// </summary>
public static class AdminKeyFilter
{
    public static RouteGroupBuilder RequireAdminKey(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (context, next) =>
        {
            QuotaRuntime runtime = context.HttpContext.RequestServices.GetRequiredService<QuotaRuntime>();
            if (runtime.IsAdmin(context.HttpContext.Request))
            {
                return await next(context).ConfigureAwait(false);
            }

            FailedAuthThrottle.Record(context.HttpContext, AuthSurface.AdminApi);
            return Results.Problem(statusCode: 401, title: "unauthorized", detail: "Authorization: Bearer <admin key> is required");
        });
        return group;
    }
}
