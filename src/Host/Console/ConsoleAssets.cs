using System.Reflection;

namespace Quota.Host.ConsoleUi;

/// <summary>
/// Serves the console's stylesheet and script (Console/wwwroot, embedded in the assembly): the same bytes whether the
/// host runs from the repository, a publish folder or a test, with no static-web-assets manifest to find.
/// </summary>
public static class ConsoleAssets
{
    private static readonly Dictionary<string, (byte[] Bytes, string ContentType)> Files = Load();

    private static Dictionary<string, (byte[], string)> Load()
    {
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        Assembly assembly = typeof(ConsoleAssets).Assembly;
        foreach ((string name, string type) in new[] { ("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8") })
        {
            using Stream stream = assembly.GetManifestResourceStream("ConsoleUi.wwwroot." + name)
                ?? throw new InvalidOperationException($"embedded console asset {name} is missing");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            files[name] = (buffer.ToArray(), type);
        }

        return files;
    }

    public static void MapConsoleAssets(this WebApplication app) =>
        app.MapGet("/console/{name}", (string name, HttpContext context) =>
        {
            if (!Files.TryGetValue(name, out (byte[] Bytes, string ContentType) file))
            {
                return Results.NotFound();
            }

            context.Response.Headers.CacheControl = "public, max-age=3600";
            return Results.Bytes(file.Bytes, file.ContentType);
        }).ExcludeFromDescription();
}
