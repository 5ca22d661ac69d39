using Quota.Host.Cluster;
using Quota.Host.Tests.Support;

namespace Quota.Host.Tests.Cluster;

/// <summary>The store's scripts against a real redis-server.</summary>
public sealed class StoreScriptsOnRedisTests(RedisServer redis) : StoreScriptsContract(redis), IClassFixture<RedisServer>;

/// <summary>The store's scripts against Garnet (Lua on): the same contract.</summary>
public sealed class StoreScriptsOnGarnetTests(GarnetServer garnet) : StoreScriptsContract(garnet), IClassFixture<GarnetServer>;

/// <summary>The store's scripts against a real store: leases, cumulative reports, lapses, pauses.</summary>
public abstract class StoreScriptsContract(StoreServer redis) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly string prefix = $"t{Guid.NewGuid():N}:";
    private readonly List<ClusterStore> stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ClusterStore store in stores)
        {
            await store.DisposeAsync();
        }
    }

    private async Task<ClusterStore> NodeAsync(string nodeId)
    {
        ClusterStore store = await ClusterStore.ConnectAsync(new ClusterOptions { Store = redis.ConnectionString, NodeId = nodeId, KeyPrefix = prefix });
        stores.Add(store);
        store.Epoch = await store.CreateEpochAsync(Guid.NewGuid().ToString("N")); // the first node sets it, the others take it
        return store;
    }

    [Fact]
    public async Task Grants_NeverExceedTheHeadroom_HoweverManyNodesAskAtOnce()
    {
        ClusterStore[] nodes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => NodeAsync("n" + i)));
        string account = nodes[0].WindowAccount(1, 0, 1_000);
        long[] granted = await Task.WhenAll(nodes.Select(node => Task.Run(async () =>
        {
            long total = 0;
            while (await node.GrantAsync(account, need: 7, want: 50, quota: 1_000, Lease, 0, graceful: false) is { Granted: > 0 } reply)
            {
                total += reply.Granted;
            }

            return total;
        })));

        Assert.InRange(granted.Sum(), 1_000 - 6, 1_000); // all of it but what no strict need of 7 fits in
        Assert.Equal(granted.Sum(), nodes[0].ReadAccount(account).Leased);
    }

    [Fact]
    public async Task Reports_AreCumulative_SoARepeatAfterACrashCountsNothingTwice()
    {
        ClusterStore a = await NodeAsync("a"), b = await NodeAsync("b");
        string account = a.WindowAccount(1, 0, 1_000);
        await a.GrantAsync(account, 100, 100, 1_000, Lease, 0, graceful: false);
        AccountReport report = new(account, 40, 1_000, false, 0);
        await a.ReportAsync([report], Lease);
        await a.ReportAsync([report], Lease); // the same total again (a retry, or a restart that recovered the same log)
        Assert.Equal(40, a.ReadAccount(account).Used);
        Assert.Equal(60, a.ReadAccount(account).Leased); // what was reported used came off the lease

        await a.ReportAsync([report with { UsedTotal = 55 }], Lease);
        await b.ReportAsync([report with { UsedTotal = 10 }], Lease);
        await a.ReportAsync([report with { UsedTotal = 50 }], Lease); // an older total arriving late changes nothing
        Assert.Equal(65, a.ReadAccount(account).Used);
    }

    [Fact]
    public async Task ALapsedLease_GoesBackIntoHeadroom_AndItsNodeLearnsItIsGone()
    {
        ClusterStore a = await NodeAsync("a"), b = await NodeAsync("b");
        string account = a.BudgetAccount(9);
        a.SaveDocument("t:9", "{}", account, budget: 100);
        Assert.Equal(100, (await a.GrantAsync(account, 100, 100, -1, TimeSpan.FromMilliseconds(300), 0, graceful: false)).Granted);
        Assert.Equal(0, (await b.GrantAsync(account, 1, 1, -1, Lease, 0, graceful: false)).Granted);

        GrantReply regrant = default;
        for (int attempt = 0; attempt < 250 && regrant.Granted == 0; attempt++) // a's lease lapses 300 ms after its grant, by the store's clock
        {
            await Task.Delay(20);
            regrant = await b.GrantAsync(account, 100, 100, -1, Lease, 0, graceful: false); // strict: all or nothing
        }

        Assert.Equal(100, regrant.Granted);
        ReportReply[] late = await a.ReportAsync([new AccountReport(account, 0, -1, false, 0)], Lease);
        Assert.Equal(0, late[0].Lease); // a's lease is gone: a must not spend it
    }

    [Fact]
    public async Task ADisableTokenWindow_PausesOnceUsedUp_ForEveryNode_UntilAReset()
    {
        ClusterStore a = await NodeAsync("a"), b = await NodeAsync("b");
        string account = a.WindowAccount(3, 1, 5_000);
        await a.GrantAsync(account, 10, 10, 10, Lease, 0, graceful: true);
        ReportReply[] reply = await a.ReportAsync([new AccountReport(account, 12, 10, Pauses: true, 0)], Lease); // a graceful crossing
        Assert.True(reply[0].Paused);
        Assert.True((await b.GrantAsync(account, 1, 1, 10, Lease, 0, graceful: true)).Paused);

        a.ResetWindow(account);
        GrantReply after = await b.GrantAsync(account, 1, 1, 10, Lease, 0, graceful: true);
        Assert.False(after.Paused);
        Assert.True(after.Granted > 0);
        Assert.Equal(0, a.ReadAccount(account).Used); // cleared; a's cumulative count stays, so its next report adds only new usage
        await a.ReportAsync([new AccountReport(account, 15, 10, Pauses: true, 0)], Lease);
        Assert.Equal(3, a.ReadAccount(account).Used);
    }

    [Fact]
    public async Task ADebit_CannotTakeWhatTheLeasesHold()
    {
        ClusterStore a = await NodeAsync("a");
        string wallet = a.WalletAccount(4);
        Assert.True(a.Credit(4, 100));
        await a.GrantAsync(wallet, 70, 70, -1, Lease, 0, graceful: false);
        Assert.False(a.Credit(4, -31));
        Assert.True(a.Credit(4, -30));
        Assert.Equal(0, (await a.GrantAsync(wallet, 1, 1, -1, Lease, 0, graceful: false)).Granted);
    }
}
