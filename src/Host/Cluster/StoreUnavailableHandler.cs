using Microsoft.AspNetCore.Diagnostics;
using StackExchange.Redis;

namespace Quota.Host.Cluster;

/// <summary>
/// A store that cannot be reached (or times out) during a configuration write or a fresh read is a 503
/// <c>service_unavailable</c> the caller can retry, never a 500. Admission has its own answer (<see cref="ClusterNode.UnavailableMessage"/>).
/// </summary>
internal sealed class StoreUnavailableHandler(ILogger<StoreUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (RedisException or TimeoutException))
        {
            return false;
        }

        ClusterLog.StoreUnreachable(logger, exception.Message);
        await Errors.OpenAiError.Result(StatusCodes.Status503ServiceUnavailable, "service_unavailable",
            "the cluster store did not answer; nothing was changed unless a retry finds it done").ExecuteAsync(httpContext);
        return true;
    }
}
