namespace Quota.Clients.Tests.Support;

/// <summary>
/// A fact that needs Node.js and an npm package (openai by default) installed in tests/Clients.Tests/node (<c>npm ci</c>, which
/// .ci/run does when npm exists). Where either is missing the test is skipped with a message saying what to do.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NodeFactAttribute : FactAttribute
{
    /// <param name="package">The npm package the test needs (in node/node_modules).</param>
    public NodeFactAttribute(string package = "openai")
    {
        if (NodeClients.NodeVersion() is null)
        {
            Skip = "node is not on PATH: install Node.js (Debian: apt-get install -y nodejs npm) to run the openai npm client tests";
        }
        else if (!File.Exists(Path.Combine(NodeClients.Directory, "node_modules", package, "package.json")))
        {
            Skip = $"the {package} npm package is not installed: run `npm ci` in {NodeClients.Directory}";
        }
    }
}

/// <summary>Finds and runs tests/Clients.Tests/node/flows.mjs.</summary>
internal static class NodeClients
{
    /// <summary>tests/Clients.Tests/node in the source tree (found from the test assembly's folder upwards).</summary>
    public static string Directory { get; } = Find();

    public static string? NodeVersion()
    {
        try
        {
            (int exit, string stdout, _) = RunAsync(["--version"], new Dictionary<string, string>(), TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            return exit == 0 ? stdout.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no node executable
        }
    }

    /// <summary>Runs node with <paramref name="arguments"/> in <see cref="Directory"/>; killed after <paramref name="bound"/>.</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] arguments, IDictionary<string, string> environment, TimeSpan bound) =>
        ChildProcess.RunAsync("node", arguments, environment, Directory, bound);

    private static string Find()
    {
        for (DirectoryInfo? at = new(AppContext.BaseDirectory); at is not null; at = at.Parent)
        {
            string candidate = Path.Combine(at.FullName, "tests", "Clients.Tests", "node");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "node"); // not in a source tree: the skip message names it
    }
}
