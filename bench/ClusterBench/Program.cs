// Cluster mode's numbers, all from one run on this machine (written as markdown to stdout; bench/run.sh keeps it in
// bench/results/cluster.md and bench/summarize.py reads it):
//  1. store round trips (every call the nodes made: grants, reports, give-backs, configuration polls) per 1,000 admitted
//     reserve+settle pairs on one hot key served by 3 nodes, 6 concurrent clients;
//  2. reserve latency at 1 client: on a node with a live lease, on a single node (no cluster), and one direct store
//     round trip (the grant script), which is what a reserve would cost without leases.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using HttpServer = Microsoft.AspNetCore.Hosting.Server.IServer;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Quota.Host;
using Quota.Host.Cluster;

string AdminKey = Quota.Host.Runtime.ApiKeys.NewKey("sk-admin-"); // a fresh key each run: the host refuses weak ones
int admitted = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3_000;
int port;
using (var probe = new TcpListener(System.Net.IPAddress.Loopback, 0))
{
    probe.Start();
    port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
}

var redisStart = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, UseShellExecute = false };
foreach (string a in (string[])["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
{
    redisStart.ArgumentList.Add(a);
}

using Process redis = Process.Start(redisStart)!;
string store = $"127.0.0.1:{port},abortConnect=false";
string root = Path.Combine(Path.GetTempPath(), "quota-cluster-bench-" + Guid.NewGuid().ToString("N"));
var apps = new List<WebApplication>();
try
{
    await Task.Delay(300);
    var nodes = new List<HttpClient>();
    for (int i = 0; i < 4; i++) // three nodes, and a single node for comparison
    {
        string[] cluster = i < 3 ? [$"--Cluster:Store={store}", $"--Cluster:NodeId=n{i}"] : [];
        WebApplication app = HostApp.Build(["--urls", "http://127.0.0.1:0", $"--Quota:DataDir={Path.Combine(root, "n" + i)}", $"--Quota:AdminKey={AdminKey}",
            "--Logging:LogLevel:Default=Warning", "--Logging:Console:LogToStandardErrorThreshold=Trace", .. cluster]); // stdout is the report
        await app.StartAsync();
        apps.Add(app);
        var client = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<HttpServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        nodes.Add(client);
    }

    string clusterKey = await CreateKeyAsync(nodes[0]), singleKey = await CreateKeyAsync(nodes[3]);
    long RoundTrips() => apps.Take(3).Sum(app => app.Services.GetRequiredService<ClusterNode>().Store.RoundTrips);

    // 1. Round trips per 1,000 admitted requests on one hot key, 3 nodes.
    for (int i = 0; i < 300; i++)
    {
        await PairAsync(nodes[i % 3], clusterKey); // warm-up: leases sized from demand, JIT
    }

    long before = RoundTrips();
    int done = 0;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
    {
        while (Interlocked.Increment(ref done) <= admitted)
        {
            await PairAsync(nodes[worker % 3], clusterKey);
        }
    })));
    double seconds = clock.Elapsed.TotalSeconds;
    long roundTrips = RoundTrips() - before; // every call the 3 nodes made: grants, reports, give-backs, configuration polls
    double perThousand = roundTrips * 1000.0 / admitted;

    // 2. Reserve latency at one client.
    double single = await ReserveP50Async(nodes[3], singleKey), leased = await ReserveP50Async(nodes[0], clusterKey);
    await using ClusterStore direct = await ClusterStore.ConnectAsync(new ClusterOptions { Store = store, NodeId = "bench", KeyPrefix = "direct:" });
    var grants = new List<double>();
    for (int i = 0; i < 2_000; i++)
    {
        long t = Stopwatch.GetTimestamp();
        await direct.GrantAsync(direct.WindowAccount(1, 0, 0), 1, 1, 1_000_000_000, TimeSpan.FromSeconds(30), 0, graceful: false);
        grants.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
    }

    Console.WriteLine("### Cluster mode (3 nodes in one process, redis-server 7 on loopback)\n");
    Console.WriteLine("| measure | value |");
    Console.WriteLine("|---|---:|");
    Console.WriteLine($"| admitted reserve+settle pairs on one hot key, 6 clients over 3 nodes | {admitted:N0} in {seconds:F1} s |");
    Console.WriteLine($"| store round trips (every call of the 3 nodes: grants, reports, give-backs, polls) | {roundTrips:N0} |");
    Console.WriteLine($"| store round trips per 1,000 admitted requests | {perThousand:F1} |");
    Console.WriteLine($"| reserve p50 over HTTP, node with a live lease | {leased:F0} µs |");
    Console.WriteLine($"| reserve p50 over HTTP, single node (no cluster) | {single:F0} µs |");
    Console.WriteLine($"| one direct store round trip (the grant script), p50 | {Median(grants):F0} µs |");
}
finally
{
    foreach (WebApplication app in apps)
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    redis.Kill();
    try
    {
        Directory.Delete(root, recursive: true);
    }
    catch (IOException)
    {
    }
}

static async Task<string> CreateKeyAsync(HttpClient admin)
{
    using HttpResponseMessage user = await admin.PostAsJsonAsync("/api/users", new { name = "bench", quota = 1_000_000_000_000 });
    user.EnsureSuccessStatusCode();
    int userId = (await user.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    using HttpResponseMessage token = await admin.PostAsJsonAsync("/api/tokens", new
    {
        user_id = userId, name = "hot", remain_quota = 1_000_000_000_000,
        quota_policy = new { period_mode = "daily", quota = 1_000_000_000_000, boundary_mode = "strict_pre_check" },
    });
    token.EnsureSuccessStatusCode();
    return (await token.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
}

static async Task<double> PairAsync(HttpClient node, string key)
{
    long t = Stopwatch.GetTimestamp();
    using HttpResponseMessage reserve = await node.PostAsJsonAsync("/api/quota/reserve", new { key, amount = 10 });
    double reserveUs = Stopwatch.GetElapsedTime(t).TotalMicroseconds;
    reserve.EnsureSuccessStatusCode();
    string id = (await reserve.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reservation_id").GetString()!;
    using HttpResponseMessage settle = await node.PostAsJsonAsync("/api/quota/settle", new { reservation_id = id, amount = 8 });
    settle.EnsureSuccessStatusCode();
    return reserveUs;
}

static async Task<double> ReserveP50Async(HttpClient node, string key)
{
    for (int i = 0; i < 500; i++)
    {
        await PairAsync(node, key);
    }

    var samples = new List<double>();
    for (int i = 0; i < 2_000; i++)
    {
        samples.Add(await PairAsync(node, key));
    }

    return Median(samples);
}

static double Median(List<double> samples)
{
    samples.Sort();
    return samples[samples.Count / 2];
}
