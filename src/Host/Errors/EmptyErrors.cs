using Microsoft.AspNetCore.Diagnostics;

namespace Quota.Host.Errors;

/// <summary>
/// Bodies for the errors the framework answers without one (415 for a non-JSON content type, 405, unknown routes):
/// the OpenAI error shape on the relay and quota API, problem details on the admin API.
/// </summary>
public static class EmptyErrors
{
    public static async Task WriteAsync(StatusCodeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        HttpContext http = context.HttpContext;
        int status = http.Response.StatusCode;
        (string code, string message) = status switch
        {
            415 => ("unsupported_media_type", "the body must be JSON: send Content-Type: application/json"),
            405 => ("method_not_allowed", $"{http.Request.Method} is not allowed on this route"),
            404 => ("not_found", "no such route"),
            _ => ("error", $"the request failed with status {status}"),
        };
        if (http.Request.Path.StartsWithSegments("/v1") || http.Request.Path.StartsWithSegments("/api/quota"))
        {
            await OpenAiError.Result(status, code, message).ExecuteAsync(http).ConfigureAwait(false);
            return;
        }

        IProblemDetailsService problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = status, Title = code, Detail = message },
        }).ConfigureAwait(false);
    }
}
