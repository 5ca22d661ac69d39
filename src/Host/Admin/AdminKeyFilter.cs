using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>Refuses requests without the admin bearer key (compared in constant time).</summary>
public static class AdminKeyFilter
{
    /// <param name="openAiErrors">Answer in the OpenAI error shape (quota API) instead of problem details (admin API).</param>
    public static RouteGroupBuilder RequireAdminKey(this RouteGroupBuilder group, bool openAiErrors = false)
    {
        group.AddEndpointFilter(async (context, next) =>
        {
            QuotaRuntime runtime = context.HttpContext.RequestServices.GetRequiredService<QuotaRuntime>();
            if (runtime.IsAdmin(context.HttpContext.Request))
            {
                return await next(context).ConfigureAwait(false);
            }

            return openAiErrors
                ? OpenAiError.Result(401, "invalid_api_key", "the admin key is missing or wrong")
                : Results.Problem(statusCode: 401, title: "unauthorized", detail: "Authorization: Bearer <admin key> is required");
        });
        return group;
    }
}
