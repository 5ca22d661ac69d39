using Quota.Engine.Accounts;
using Quota.Engine.Diagnostics;
using Quota.Engine.Leases;
using Quota.Engine.Model;

namespace Quota.Engine.Tests.Leases;

/// <summary>
/// N engines with leased windows sharing one <see cref="InMemoryLeaseAuthority"/>: one user and one key with one policy
/// on every node (created in the same order, so the ids and window generations agree), wallets and budgets large enough
/// never to refuse (they are local to each node in this step). The harness the cluster properties run against.
/// </summary>
internal sealed class LeasedCluster
{
    public LeasedCluster(int nodes, QuotaPolicySpec policy, long nowMs, int leaseAheadRequests = 2)
    {
        NowMs = nowMs;
        Policy = policy;
        Options = new EngineOptions { KeysMax = 8, UsersMax = 4, ReservationsMax = 1 << 12, LeasedWindows = true, LeaseAheadRequests = leaseAheadRequests };
        Nodes = new QuotaEngine[nodes];
        for (int i = 0; i < nodes; i++)
        {
            Nodes[i] = new QuotaEngine(Options, leases: Authority.ForNode(i + 1));
            int user = Nodes[i].CreateUser(EngineLimits.BalanceMaxUnits).Id;
            SaveOutcome key = Nodes[i].CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = EngineLimits.BalanceMaxUnits, Policies = [policy] }, nowMs);
            Assert.True(key.IsOk, key.Error.ToString());
            Token = key.Id;
        }
    }

    public InMemoryLeaseAuthority Authority { get; } = new();

    public QuotaEngine[] Nodes { get; }

    public EngineOptions Options { get; }

    public QuotaPolicySpec Policy { get; }

    public int Token { get; }

    public long NowMs { get; set; }

    public AccountId Window => AccountId.Window(Token, 0);

    public PolicyView PolicyOn(int node) => Nodes[node].ReadToken(Token, NowMs)!.Policies[0];

    /// <summary>Used + reserved of the current window over every node (each node rolled to now first).</summary>
    public long UsedPlusReserved()
    {
        long total = 0;
        for (int i = 0; i < Nodes.Length; i++)
        {
            Nodes[i].RollDueWindows(NowMs);
            PolicyView view = PolicyOn(i);
            total += view.UsedQuotaUnits + view.ReservedQuotaUnits;
        }

        return total;
    }

    /// <summary>
    /// Invariant 12 at the authority: in every window, the positive leases (a negative one is a debt already in the usage)
    /// plus the reported usage stay within <paramref name="bound"/>.
    /// </summary>
    public void AssertAuthorityWithin(long bound)
    {
        foreach (LeaseBook book in Authority.Books())
        {
            long leased = book.LeasedByNode.Values.Sum(lease => Math.Max(0, lease));
            Assert.True(leased + book.UsedUnits <= bound, $"window {book.WindowStartMs}: leases {leased} + used {book.UsedUnits} > {bound}");
        }
    }

    /// <summary>
    /// Conservation, once every node has reported and given back its free lease: per node, the authority's lease for the
    /// node's current window equals the node's own; the authority's usage is every node's charges; and every node's books
    /// balance (reserved = its open reservations).
    /// </summary>
    public async Task AssertConservedAfterReportsAsync()
    {
        foreach (QuotaEngine node in Nodes)
        {
            node.RollDueWindows(NowMs);
            await node.ReportLeasesAsync(NowMs, giveBackFree: true);
            Assert.Empty(ConservationAudit.Check(node));
        }

        var cell = Nodes[0].FindKey(Token)!.Slots![0]!.Cell;
        LeaseBook? book = Authority.Books().SingleOrDefault(b => b.Account == Window && b.WindowStartMs == cell.WindowStartMs);
        long used = 0;
        for (int i = 0; i < Nodes.Length; i++)
        {
            WindowCell mine = Nodes[i].FindKey(Token)!.Slots![0]!.Cell;
            Assert.True(mine.Used == mine.Reported, $"node {i + 1}: used {mine.Used}, reported {mine.Reported}");
            long theirs = book?.LeasedByNode.GetValueOrDefault(i + 1) ?? 0;
            Assert.True(mine.Leased == theirs, $"node {i + 1}: leased {mine.Leased}, at the authority {theirs}");
            used += mine.Used;
        }

        Assert.True(used == (book?.UsedUnits ?? 0), $"nodes used {used}, the authority {book?.UsedUnits}");
    }
}
