using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Quota.Host.Tests.Support;

/// <summary>
/// A real <c>redis-server</c> (Debian's package; `.ci/run` installs it) on a free loopback port, in memory only, for one
/// test class. Cluster tests need the real store: its scripts are the product.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly Process process;
    private int stopped;

    public RedisServer()
    {
        Port = FreePort();
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("redis-server is not installed (apt-get install redis-server; .ci/run does it)", exception);
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
        for (int attempt = 0; attempt < 300; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(20);
            }
        }

        throw new InvalidOperationException("redis-server did not listen within 6 s");
    }

    /// <summary>Stops the server (a test may stop it early, to take the store away).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref stopped, 1) == 0)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            process.Dispose();
        }
    }
}
