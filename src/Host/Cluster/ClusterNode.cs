using Microsoft.Extensions.Options;
using Quota.Engine.Hosting;
using Quota.Engine.Model;
using Quota.Host.Runtime;

namespace Quota.Host.Cluster;

/// <summary>
/// This host as a node of a cluster (docs/cluster.md): connects to the store, applies its configuration before serving,
/// and runs the node's loop — every report interval it reports usage, renews leases, learns pauses, gives idle leases
/// back; every poll interval it also applies configuration it missed and sweeps usage no lease covers. On a clean stop
/// it reports once more and gives every lease back.
/// <para>A store that lost its data (docs/cluster.md "Store data loss") is found by its epoch: the node stops admitting
/// (<see cref="State"/>), and takes part in the store's rebuild (<see cref="ClusterRebuild"/>) once one is started.</para>
/// </summary>
public sealed class ClusterNode(QuotaRuntime runtime, IOptions<ClusterOptions> options, IOptions<QuotaEngineOptions> engineOptions,
    ILogger<ClusterNode> logger) : IHostedService, IAsyncDisposable
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
    private ClusterLedger? ledger;
    private ClusterRebuild? rebuild;
    private volatile StoreState state;
    // The members seen live at the last claim while serving: whom a rebuild waits for by default.
    private volatile string[] liveMembers = [];

    public ClusterStore Store => store ?? throw new InvalidOperationException("the cluster node has not started");
    public ClusterConfig Config { get; private set; } = null!;
    internal LeaseGate Gate { get; private set; } = null!;

    /// <summary>Whether this node admits (serving), or found the store emptied or changed (lost), or has contributed to its rebuild and waits for the others.</summary>
    public StoreState State => state;

    /// <summary>The members this node saw live (claimed within the last minute) when it last served: whom a reseed waits for by default.</summary>
    public IReadOnlyList<string> LiveMembers => liveMembers;

    internal ClusterRebuild Rebuild => rebuild ?? throw new InvalidOperationException("the cluster node has not started");

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
        ledger = new ClusterLedger(engineOptions.Value.DataDir);
        string storeEpoch = await ClaimNodeIdAsync(store).ConfigureAwait(false);
        Config = new ClusterConfig(runtime, store, ledger, logger);
        Gate = new LeaseGate(runtime, store, Config, settings, () => state == StoreState.Serving, EpochLost);
        reports = new ClusterReports(runtime, store, Config);
        rebuild = new ClusterRebuild(runtime, store, Config, reports, ledger, settings);
        configWorker = Task.Run(() => Config.RunAsync(stopping.Token), CancellationToken.None);
        // The store client's callback only records the version: the worker applies it (never block the multiplexer).
        await store.Subscriber.SubscribeAsync(store.EventsChannel, (_, message) =>
        {
            if (message.TryParse(out long announced))
            {
                Config.Announce(announced);
            }
        }).ConfigureAwait(false);
        if (ledger.Epoch is null)
        {
            // A node that never knew an epoch: a new node joining a running cluster, or the first node of a new one.
            ledger.Epoch = storeEpoch.Length > 0 ? storeEpoch : await store.CreateEpochAsync(Guid.NewGuid().ToString("N")).ConfigureAwait(false);
            storeEpoch = ledger.Epoch;
        }

        store.Epoch = ledger.Epoch;
        if (store.Epoch != storeEpoch)
        {
            // The store lost its data while this node was down: serve nothing, keep the keys' shapes for the rebuild.
            state = StoreState.Lost;
            Config.LoadKept();
            runtime.Cluster = this;
            loop = Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
            ClusterLog.StoreLost(logger, settings.NodeId, store.Epoch);
            return;
        }

        await Config.SyncAsync().ConfigureAwait(false); // serve nothing before this node has the cluster's configuration
        await ReportAsync(reports.Sweep(reports.AllTokens(), runtime.NowMs)).ConfigureAwait(false); // what the last run used and did not report
        await LeaseRecoveredAsync().ConfigureAwait(false);

        runtime.Cluster = this;
        loop = Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
        ClusterLog.Joined(logger, settings.NodeId, Config.Version);
    }

    /// <summary>
    /// The last run's leases end with it, but for what its open reservations (recovered from the log) still hold: the store
    /// leases exactly that, and the gate gives back their unused part once they have ended.
    /// </summary>
    private async Task LeaseRecoveredAsync()
    {
        var lease = TimeSpan.FromSeconds(settings.LeaseSeconds);
        var leased = new HashSet<string>(await Store.LeasedAccountsAsync().ConfigureAwait(false), StringComparer.Ordinal);
        foreach ((AccountRef account, _, long held) in reports!.Everything(runtime.NowMs))
        {
            if (leased.Remove(account.Key))
            {
                await Store.SetLeaseAsync(account.Key, held, lease).ConfigureAwait(false);
                if (held > 0)
                {
                    Gate.Adopt(account, held);
                    Gate.Recovered(account.TokenId);
                }
            }
        }

        foreach (string gone in leased)
        {
            await Store.SetLeaseAsync(gone, 0, lease).ConfigureAwait(false); // an account this node no longer has (a past window)
        }
    }

    /// <summary>
    /// Two live processes with one NodeId would mix their cumulative reports (one's charges would go uncounted), so a
    /// node starts only once it holds the id. A claim whose time left goes up between two looks is being renewed: its
    /// holder is alive, and this node refuses to start. One that only runs down was left by a process killed without a
    /// stop: this node waits it out (<see cref="Claim"/> at most).
    /// </summary>
    private async Task<string> ClaimNodeIdAsync(ClusterStore claimed)
    {
        long left = long.MaxValue;
        ClaimReply reply;
        for (; (reply = await claimed.ClaimNodeAsync(processToken, Claim).ConfigureAwait(false)).HeldElsewhereMs > 0; left = reply.HeldElsewhereMs)
        {
            if (reply.HeldElsewhereMs > left)
            {
                throw new InvalidOperationException(
                    $"Cluster:NodeId '{settings.NodeId}' is held by another live node; give every node its own id (and keep it across its restarts)");
            }

            await Task.Delay(200).ConfigureAwait(false);
        }

        return reply.StoreEpoch;
    }

    /// <summary>
    /// A guarded script found the store is not the one this node knows (emptied, restarted without persistence, failed over
    /// to an empty replica): stop admitting at once, and drop what is left of every lease here — nothing is admitted against
    /// it any more. The holds open now are leased again by the rebuild.
    /// </summary>
    internal void EpochLost()
    {
        if (state == StoreState.Serving)
        {
            state = StoreState.Lost;
            Gate.DropLeases();
            ClusterLog.StoreLost(logger, settings.NodeId, Store.Epoch);
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
                    if (state == StoreState.Lost)
                    {
                        Gate.FinishEndedReservations();
                    }
                    else
                    {
                        await TickAsync(final: false).ConfigureAwait(false); // rebuilding: reports keep the adopted leases renewed
                    }

                    if (Environment.TickCount64 - lastPoll >= settings.PollIntervalMs)
                    {
                        lastPoll = Environment.TickCount64;
                        if (state != StoreState.Serving)
                        {
                            await RecoverAsync().ConfigureAwait(false);
                            continue;
                        }

                        await Config.SyncAsync().ConfigureAwait(false);
                        await ReportAsync(reports!.Sweep(Gate.TakeMoved(StillOpen), runtime.NowMs)).ConfigureAwait(false);
                    }

                    storeFailures = 0;
                }
                catch (Exception exception) when (ClusterStore.IsEpochError(exception))
                {
                    EpochLost();
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
            ClaimReply claim = await Store.ClaimNodeAsync(processToken, Claim).ConfigureAwait(false);
            if (claim.HeldElsewhereMs > 0)
            {
                ClusterLog.NodeIdTaken(logger, settings.NodeId); // only after this process lost the store for longer than the claim
            }

            if (claim.StoreEpoch != Store.Epoch)
            {
                EpochLost(); // an idle node learns it too, within a second
                return;
            }

            liveMembers = [.. claim.Members.Where(m => m.SeenAgoMs < 60_000).Select(m => m.Node)];
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
            LeaseGate.EndRecovered(cell, () => reports!.Held(cell.Account, []));

            bool windowOver = cell.Account.Kind == AccountKind.Window && nowMs >= cell.Account.WindowEndMs;
            if (final || windowOver || cell.Paused || now - Volatile.Read(ref cell.LastUsedTicks) > IdleLease.TotalMilliseconds)
            {
                await Gate.GiveBackIdleAsync(cell).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Not serving: keeps the NodeId claimed, contributes to a rebuild of the epoch this node knew once one is started, and
    /// serves again once the rebuild it contributed to has ended.
    /// </summary>
    private async Task RecoverAsync()
    {
        await Store.ClaimNodeAsync(processToken, Claim).ConfigureAwait(false);
        RebuildStatus status = await Store.RebuildStatusAsync().ConfigureAwait(false);
        if (state == StoreState.Lost && status.RebuildingFrom == Store.Epoch)
        {
            string to = await Rebuild.ContributeAsync(Gate, status.StoreEpoch).ConfigureAwait(false);
            ledger!.Epoch = Store.Epoch = to;
            state = StoreState.Rebuilding;
            status = await Store.RebuildStatusAsync().ConfigureAwait(false);
        }

        if (state == StoreState.Rebuilding && status.RebuildingFrom.Length == 0 && status.StoreEpoch == Store.Epoch)
        {
            state = StoreState.Serving;
            await Config.SyncAsync().ConfigureAwait(false); // documents other nodes brought back
            ClusterLog.StoreRebuilt(logger, settings.NodeId, Store.Epoch);
        }
    }

    /// <summary>
    /// Starts the rebuild of a store that lost its data (<c>POST /api/cluster/reseed</c>), waiting for
    /// <paramref name="nodes"/> (each contributes on its next poll); this node contributes at once. See docs/cluster.md.
    /// </summary>
    public async Task<(bool Started, string EpochOrReason)> ReseedAsync(IReadOnlyList<string> nodes)
    {
        if (state == StoreState.Serving)
        {
            // The store may have lost its data since the last poll: look before refusing.
            if ((await Store.RebuildStatusAsync().ConfigureAwait(false)).StoreEpoch == Store.Epoch)
            {
                return (false, "the store has not lost its data: this node serves at its epoch");
            }

            EpochLost();
        }

        string from = state == StoreState.Lost ? Store.Epoch : Rebuild.From ?? Store.Epoch;
        (bool started, string epoch) = await Store.BeginRebuildAsync(from, Guid.NewGuid().ToString("N"), nodes).ConfigureAwait(false);
        if (started && state == StoreState.Lost)
        {
            await RecoverAsync().ConfigureAwait(false);
        }

        return (started, epoch);
    }

    private bool StillOpen(int tokenId) => runtime.Engine.ReadToken(tokenId, runtime.NowMs) is { ReservedQuotaUnits: > 0 };

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
        ledger?.Dispose();
        if (store is not null)
        {
            await store.DisposeAsync().ConfigureAwait(false);
        }
    }
}
