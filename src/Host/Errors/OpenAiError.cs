using Microsoft.AspNetCore.Http.HttpResults;

namespace Quota.Host.Errors;

/// <summary>The relay and quota API error body.</summary>
public sealed record OpenAiErrorBody(OpenAiErrorDetail Error);

/// <summary>What went wrong: a sentence, the error family, the offending field (or null), and a stable code.</summary>
public sealed record OpenAiErrorDetail(string Message, string Type, string? Param, string Code);

/// <summary>The relay and quota API error body: <c>{ "error": { message, type, param, code } }</c> (docs/api.md "Errors (relay and quota API)").</summary>
public static class OpenAiError
{
    public static JsonHttpResult<OpenAiErrorBody> Result(int status, string code, string message, string? param = null) =>
        TypedResults.Json(new OpenAiErrorBody(new OpenAiErrorDetail(message, TypeOf(status), param, code)), statusCode: status);

    public static JsonHttpResult<OpenAiErrorBody> InvalidRequest(string message, string? param = null) => Result(400, "invalid_request", message, param);

    /// <summary>A body that could not be read: 400 naming the field, 413 when it is too large, 408 when it came too slowly.</summary>
    public static JsonHttpResult<OpenAiErrorBody> BadBody<T>(Runtime.JsonBody.Outcome<T> body) => BadBody(body.Status, body.Field, body.Error!);

    /// <inheritdoc cref="BadBody{T}(Runtime.JsonBody.Outcome{T})"/>
    public static JsonHttpResult<OpenAiErrorBody> BadBody(int status, string? field, string error) => status switch
    {
        413 => Result(413, "request_too_large", error),
        408 => Result(408, "request_timeout", error, field),
        _ => InvalidRequest($"{field}: {error}", field),
    };

    private static string TypeOf(int status) => status switch
    {
        401 => "authentication_error",
        403 or 429 => "quota_error",
        404 => "not_found_error",
        502 => "upstream_error",
        _ => "invalid_request_error",
    };
}

/// <summary>Admin API errors: RFC 9457 problem details naming the offending field.</summary>
public static class Problem
{
    /// <summary>A body that could not be read: 400 naming the field, 413 when it is too large, 408 when it came too slowly.</summary>
    public static IResult BadBody<T>(Runtime.JsonBody.Outcome<T> body) => body.Status switch
    {
        413 => Results.Problem(statusCode: 413, title: "request_too_large", detail: body.Error),
        408 => Results.Problem(statusCode: 408, title: "request_timeout", detail: body.Error),
        _ => Invalid(body.Field!, body.Error!),
    };

    public static IResult Invalid(string field, string message) =>
        Results.Problem(statusCode: 400, title: "invalid_request", detail: $"{field}: {message}", extensions: new Dictionary<string, object?> { ["field"] = field });

    public static IResult NotFound(string what) => Results.Problem(statusCode: 404, title: "not_found", detail: what);

    public static IResult Unavailable(string detail) => Results.Problem(statusCode: 503, title: "unavailable", detail: detail);

    public static IResult Conflict(string field, string message) =>
        Results.Problem(statusCode: 409, title: "conflict", detail: $"{field}: {message}", extensions: new Dictionary<string, object?> { ["field"] = field });
}
