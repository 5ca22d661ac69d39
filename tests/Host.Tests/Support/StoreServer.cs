using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Quota.Host.Tests.Support;

/// <summary>
/// A real <c>redis-server</c> (Debian's package; `.ci/run` installs it) on a free loopback port, in memory only, for one
/// test class. Cluster tests need the real store: its scripts are the product.
/// </summary>
public sealed class RedisServer : StoreServer
{
    public RedisServer()
        : this(0)
    {
    }

    private RedisServer(int port)
        : base("redis-server", port => ["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], "apt-get install redis-server", port)
    {
    }

    /// <summary>A redis-server on <paramref name="port"/>: a store restarted (empty) where its clients look for it.</summary>
    public static RedisServer OnPort(int port) => new(port);
}

/// <summary>
/// Microsoft Garnet (<c>dotnet tool install -g garnet-server</c>; `.ci/run` does it), with Lua scripting on and run as
/// transactions: without <c>--lua-transaction-mode</c> Garnet runs scripts without locking their keys, and the grant test
/// sees leases over the quota (measured: 1049 granted of 1000).
/// </summary>
public sealed class GarnetServer() : StoreServer(GarnetPath(), port => ["--port", port, "--bind", "127.0.0.1", "--lua", "--lua-transaction-mode"],
    "dotnet tool install -g garnet-server --version 2.2.8")
{
    private static string GarnetPath()
    {
        string global = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools", "garnet-server");
        return File.Exists(global) ? global : "garnet-server";
    }
}

/// <summary>A store server process on a free loopback port, stopped with the test class.</summary>
public abstract class StoreServer : IDisposable
{
    private readonly Process process;
    private int stopped;

    /// <param name="port">The port to listen on (a store restarted where its clients look for it), or 0 for a free one.</param>
    protected StoreServer(string executable, Func<string, string[]> arguments, string install, int port = 0)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        Port = port == 0 ? FreePort() : port;
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments(Port.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{executable} did not start");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException($"{executable} is not installed ({install}; .ci/run does it)", exception);
        }

        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        WaitListening();
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis connection string.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private void WaitListening()
    {
        for (int attempt = 0; attempt < 750; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                NetworkStream stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var reply = new byte[7];
                if (stream.Read(reply) >= 5 && reply[0] == (byte)'+')
                {
                    return; // answering commands, not only accepting connections
                }
            }
            catch (Exception exception) when (exception is SocketException or IOException)
            {
            }

            Thread.Sleep(20);
        }

        throw new InvalidOperationException("the store did not listen within 15 s");
    }

    /// <summary>Stops the server (a test may stop it early, to take the store away).</summary>
    public void Dispose()
    {
        GC.SuppressFinalize(this);
        if (Interlocked.Exchange(ref stopped, 1) == 0)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            process.Dispose();
        }
    }
}
