using System.Diagnostics;
using System.Net.Http.Headers;

namespace Quota.Host.Tests.Support;

/// <summary>The built host (Quota.Host.dll beside the tests) as a process of its own, so a test can SIGKILL it.</summary>
internal sealed class HostProcess : IDisposable
{
    private HostProcess(Process process, string baseUrl)
    {
        Process = process;
        BaseUrl = baseUrl;
        Admin = new HttpClient { BaseAddress = new Uri(baseUrl) };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", HostUnderTest.AdminKey);
    }

    public Process Process { get; }

    public string BaseUrl { get; }

    /// <summary>A client with the admin key.</summary>
    public HttpClient Admin { get; }

    /// <summary>Starts the host on <paramref name="port"/> (0: a free one) with <paramref name="dataDir"/>; returns once it is healthy.</summary>
    /// <param name="descriptorsMax">The process's file-descriptor limit (started under <c>prlimit --nofile</c>), or 0 for the caller's.</param>
    public static async Task<HostProcess> StartAsync(string dataDir, string[] extra, int port = 0, int descriptorsMax = 0)
    {
        string baseUrl = $"http://127.0.0.1:{(port == 0 ? RedisServer.FreePort() : port)}";
        var start = new ProcessStartInfo(descriptorsMax > 0 ? "prlimit" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (descriptorsMax > 0)
        {
            start.ArgumentList.Add($"--nofile={descriptorsMax}");
            start.ArgumentList.Add("dotnet"); // prlimit execs it: the process is the host itself
        }

        foreach (string argument in (string[])[
            typeof(HostApp).Assembly.Location, "--urls", baseUrl, $"--Quota:DataDir={dataDir}", $"--Quota:AdminKey={HostUnderTest.AdminKey}",
            "--Logging:LogLevel:Default=Warning", .. extra])
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException("the host did not start");
        process.OutputDataReceived += (_, _) => { }; // drained, so a chatty host never blocks on a full pipe
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var host = new HostProcess(process, baseUrl);
        await host.WaitHealthyAsync();
        return host;
    }

    private async Task WaitHealthyAsync()
    {
        for (int attempt = 0; attempt < 600; attempt++)
        {
            Assert.False(Process.HasExited, "the host process exited at start");
            try
            {
                using HttpResponseMessage health = await Admin.GetAsync("/healthz");
                if (health.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("the host process did not become healthy within 60 s");
    }

    /// <summary>SIGKILL: no stop, no flush.</summary>
    public async Task KillAsync()
    {
        Process.Kill(entireProcessTree: true);
        await Process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
        Admin.Dispose();
    }
}
