using Microsoft.Net.Http.Headers;

namespace Quota.Host.Admin;

/// <summary>
/// The admin API's document versions (docs/api.md "Versions"): a read or a save of a key or a user answers with its
/// version as an <c>ETag</c>; a save that sends it back as <c>If-Match</c> is refused with 409 <c>version_conflict</c>
/// (nothing written) when the document changed since — instead of the last writer silently winning.
/// </summary>
internal static class Versions
{
    public static void Tag(HttpResponse response, string version) => response.Headers.ETag = $"\"{version}\"";

    /// <summary>
    /// The version an <c>If-Match</c> header names: null when there is none or it is <c>*</c> (any version); a 400 naming
    /// the header when it is not one entity tag (a list, or a value without quotes).
    /// </summary>
    public static (string? Version, IResult? Problem) IfMatch(HttpRequest request)
    {
        string value = request.Headers.IfMatch.ToString().Trim();
        if (value.Length == 0 || value == "*")
        {
            return (null, null);
        }

        if (!EntityTagHeaderValue.TryParseStrictList([value], out IList<EntityTagHeaderValue>? tags) || tags.Count != 1)
        {
            return (null, Errors.Problem.Invalid(HeaderNames.IfMatch, "send the one ETag of your read, in quotes (e.g. If-Match: \"3f2a…\")"));
        }

        return (tags[0].Tag.ToString().Trim('"'), null);
    }

    /// <summary>The 409 of a stale save; <paramref name="current"/>: the document's version now (null: it is gone).</summary>
    public static IResult Conflict(string what, string? current) => Results.Problem(statusCode: 409, title: "version_conflict",
        detail: $"{what} changed since the version sent in If-Match; read it again, reapply the change and send the new ETag",
        extensions: new Dictionary<string, object?> { ["field"] = HeaderNames.IfMatch, ["etag"] = current is null ? null : $"\"{current}\"" });
}
