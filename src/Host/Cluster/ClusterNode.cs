using Microsoft.Extensions.Options;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// This host as a node of a cluster (docs/cluster.md): connects to the store, applies its configuration before serving,
/// and runs the node's loop — every report interval it reports usage, renews leases, learns pauses, gives idle leases
/// back; every poll interval it also applies configuration it missed and sweeps usage no lease covers. On a clean stop
/// it reports once more and gives every lease back.
/// </summary>
public sealed class ClusterNode(QuotaRuntime runtime, IOptions<ClusterOptions> options, ILogger<ClusterNode> logger) : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan IdleLease = TimeSpan.FromSeconds(2);
    // The claim on the NodeId, renewed every report: a process killed without a stop holds it this long at most (long
    // enough that a live node starved of CPU still renews it in time).
    private static readonly TimeSpan Claim = TimeSpan.FromSeconds(10);
    private readonly string processToken = Guid.NewGuid().ToString("N");
    private long lastClaimTicks;
    private readonly ClusterOptions settings = options.Value;
    private readonly CancellationTokenSource stopping = new();
    private ClusterStore? store;
    private ClusterReports? reports;
    private Task loop = Task.CompletedTask;
    private Task configWorker = Task.CompletedTask;
    private int storeFailures;

    public ClusterStore Store => store ?? throw new InvalidOperationException("the cluster node has not started");
    public ClusterConfig Config { get; private set; } = null!;
    internal LeaseGate Gate { get; private set; } = null!;

    /// <summary>The 503 when the store is out of reach and this node's leases cannot cover a request (fail closed).</summary>
    public const string UnavailableMessage = "the cluster store is unreachable and this node holds no lease that covers the request; retry";

    /// <summary>
    /// Holds a reservation the local engine made on the cluster's leases (docs/cluster.md); on a refusal the engine's
    /// reservation is refunded, so nothing stays held anywhere.
    /// </summary>
    public async Task<GateVerdict> AdmitAsync(int tokenId, ReserveRequest request, ReservationId id)
    {
        GateVerdict verdict = await Gate.HoldAsync(tokenId, request, id).ConfigureAwait(false);
        if (!verdict.IsOk)
        {
            runtime.Engine.Refund(id, runtime.NowMs);
        }

        return verdict;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        store = await ClusterStore.ConnectAsync(settings).ConfigureAwait(false);
        await ClaimNodeIdAsync(store).ConfigureAwait(false);
        Config = new ClusterConfig(runtime, store, logger);
        Gate = new LeaseGate(runtime, store, Config, settings);
        reports = new ClusterReports(runtime, store, Config);
        configWorker = Task.Run(() => Config.RunAsync(stopping.Token), CancellationToken.None);
        // The store client's callback only records the version: the worker applies it (never block the multiplexer).
        await store.Subscriber.SubscribeAsync(store.EventsChannel, (_, message) =>
        {
            if (message.TryParse(out long announced))
            {
                Config.Announce(announced);
            }
        }).ConfigureAwait(false);
        await Config.SyncAsync().ConfigureAwait(false); // serve nothing before this node has the cluster's configuration
        await ReportAsync(reports.Sweep(runtime.NowMs)).ConfigureAwait(false); // what the last run used and did not report
        foreach (string account in await store.LeasedAccountsAsync().ConfigureAwait(false))
        {
            // The last run's leases end with it, but for what its open reservations (recovered from the log) still hold.
            await store.SetLeaseAsync(account, reports.HeldAfterRestart(account, runtime.NowMs), TimeSpan.FromSeconds(settings.LeaseSeconds)).ConfigureAwait(false);
        }

        runtime.Cluster = this;
        loop = Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
        ClusterLog.Joined(logger, settings.NodeId, Config.Version);
    }

    /// <summary>
    /// Two live processes with one NodeId would mix their cumulative reports (one's charges would go uncounted), so a
    /// node starts only once it holds the id. A claim whose time left goes up between two looks is being renewed: its
    /// holder is alive, and this node refuses to start. One that only runs down was left by a process killed without a
    /// stop: this node waits it out (<see cref="Claim"/> at most).
    /// </summary>
    private async Task ClaimNodeIdAsync(ClusterStore claimed)
    {
        long left = long.MaxValue;
        for (long held; (held = await claimed.ClaimNodeAsync(processToken, Claim).ConfigureAwait(false)) > 0; left = held)
        {
            if (held > left)
            {
                throw new InvalidOperationException(
                    $"Cluster:NodeId '{settings.NodeId}' is held by another live node; give every node its own id (and keep it across its restarts)");
            }

            await Task.Delay(200).ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        await configWorker.ConfigureAwait(false);
        if (store is null)
        {
            return;
        }

        try
        {
            await TickAsync(final: true).ConfigureAwait(false);
            await store.ReleaseNodeAsync(processToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is StackExchange.Redis.RedisException or TimeoutException)
        {
            ClusterLog.StoreUnreachable(logger, exception.Message); // the leases lapse in the store by themselves
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(settings.ReportIntervalMs));
        long lastPoll = Environment.TickCount64;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await TickAsync(final: false).ConfigureAwait(false);
                    if (Environment.TickCount64 - lastPoll >= settings.PollIntervalMs)
                    {
                        lastPoll = Environment.TickCount64;
                        await Config.SyncAsync().ConfigureAwait(false);
                        await ReportAsync(reports!.Sweep(runtime.NowMs)).ConfigureAwait(false);
                    }

                    storeFailures = 0;
                }
                catch (Exception exception) when (exception is StackExchange.Redis.RedisException or TimeoutException)
                {
                    if (storeFailures++ % 50 == 0)
                    {
                        ClusterLog.StoreUnreachable(logger, exception.Message); // leases lapse here by time: fail closed
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One round: finish ended holds, report the live leases, give idle ones back, forget what is done.</summary>
    private async Task TickAsync(bool final)
    {
        long claimNow = Environment.TickCount64;
        if (!final && claimNow - lastClaimTicks >= 1000) // once a second is enough for a 10 s claim, and costs few round trips
        {
            lastClaimTicks = claimNow;
            if (await Store.ClaimNodeAsync(processToken, Claim).ConfigureAwait(false) > 0)
            {
                ClusterLog.NodeIdTaken(logger, settings.NodeId); // only after this process lost the store for longer than the claim
            }
        }

        Gate.FinishEndedReservations();
        long now = Environment.TickCount64, nowMs = runtime.NowMs;
        var live = new List<LeaseCell>();
        foreach (LeaseCell cell in Gate.Cells)
        {
            bool dirty = Interlocked.Exchange(ref cell.Dirty, 0) == 1;
            if (dirty || Volatile.Read(ref cell.InFlight) > 0 || Volatile.Read(ref cell.Available) > 0 || cell.LeaseValid(now))
            {
                live.Add(cell);
            }
            else if (now - Volatile.Read(ref cell.LastUsedTicks) > IdleLease.TotalMilliseconds * 5)
            {
                Gate.Forget(cell);
            }
        }

        var views = new Dictionary<int, TokenView?>();
        List<AccountReport> batch = [.. live.Select(cell => reports!.Of(cell.Account, views))];
        long sent = Environment.TickCount64;
        ReportReply[] replies = batch.Count > 0 ? await Store.ReportAsync(batch, TimeSpan.FromSeconds(settings.LeaseSeconds)).ConfigureAwait(false) : [];
        for (int i = 0; i < live.Count; i++)
        {
            Gate.Renewed(live[i], sent, replies[i]);
        }

        foreach (LeaseCell cell in live)
        {
            bool windowOver = cell.Account.Kind == AccountKind.Window && nowMs >= cell.Account.WindowEndMs;
            if (final || windowOver || cell.Paused || now - Volatile.Read(ref cell.LastUsedTicks) > IdleLease.TotalMilliseconds)
            {
                await Gate.GiveBackIdleAsync(cell).ConfigureAwait(false);
            }
        }
    }

    private async Task ReportAsync(List<AccountReport> batch)
    {
        for (int from = 0; from < batch.Count; from += 500)
        {
            await Store.ReportAsync(batch.GetRange(from, Math.Min(500, batch.Count - from)), TimeSpan.FromSeconds(settings.LeaseSeconds)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        stopping.Dispose();
        if (store is not null)
        {
            await store.DisposeAsync().ConfigureAwait(false);
        }
    }
}
