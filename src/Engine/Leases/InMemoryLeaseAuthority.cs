using Quota.Engine.Accounts;

namespace Quota.Engine.Leases;

/// <summary>
/// A lease authority in memory, shared by any number of engines in one process (tests, single-process clusters, a
/// reference for store adapters): the <see cref="ILeaseAuthority"/> contract written as plainly as possible. Each node
/// speaks through its own port (<see cref="ForNode"/>). Thread-safe: every call takes one lock.
/// </summary>
[System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
public sealed class InMemoryLeaseAuthority
{
    private readonly Lock gate = new();
    private readonly Dictionary<WindowKey, Book> books = [];
    private long grants, reports;

    /// <summary>The port node <paramref name="nodeId"/> talks through.</summary>
    public ILeaseAuthority ForNode(int nodeId) => new NodePort(this, nodeId);

    /// <summary>Grant calls taken so far (round trips a store would cost).</summary>
    public long GrantCalls => Interlocked.Read(ref grants);

    /// <summary>Report calls taken so far.</summary>
    public long ReportCalls => Interlocked.Read(ref reports);

    /// <summary>Every window's books now: reported usage and each node's net lease.</summary>
    public IReadOnlyList<LeaseBook> Books()
    {
        lock (gate)
        {
            var all = new List<LeaseBook>(books.Count);
            foreach ((WindowKey key, Book book) in books)
            {
                all.Add(new LeaseBook(key.Account, key.WindowStartMs, book.QuotaUnits, book.UsedUnits, new Dictionary<int, long>(book.LeasedByNode)));
            }

            return all;
        }
    }

    private long Grant(int nodeId, LeaseWindow window, long askedUnits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(askedUnits, 1);
        Interlocked.Increment(ref grants);
        lock (gate)
        {
            Book book = BookOf(window);
            long held = 0; // a debt (a negative lease) is already in the usage: it holds nothing
            foreach (long lease in book.LeasedByNode.Values)
            {
                held += Math.Max(0, lease);
            }

            // The asking node's own debt is paid from the grant first, so it may take that much more.
            long debt = Math.Max(0, -book.LeasedByNode.GetValueOrDefault(nodeId));
            long granted = Math.Clamp(book.QuotaUnits - book.UsedUnits - held + debt, 0, askedUnits);
            if (granted > 0)
            {
                book.LeasedByNode[nodeId] = book.LeasedByNode.GetValueOrDefault(nodeId) + granted;
            }

            return granted;
        }
    }

    private void Report(int nodeId, LeaseWindow window, long chargedUnits, long givenBackUnits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chargedUnits);
        ArgumentOutOfRangeException.ThrowIfNegative(givenBackUnits);
        Interlocked.Increment(ref reports);
        lock (gate)
        {
            Book book = BookOf(window);
            book.UsedUnits += chargedUnits;
            // Charges beyond the lease (a graceful overshoot, an overrun) are usage now and a debt of the node's lease: signed,
            // never clamped, so a report that overtakes a grant leaves the same net lease as one that follows it.
            book.LeasedByNode[nodeId] = book.LeasedByNode.GetValueOrDefault(nodeId) - chargedUnits - givenBackUnits;
        }
    }

    private void Move(long fromStartMs, LeaseWindow window)
    {
        lock (gate)
        {
            if (!books.Remove(new WindowKey(window.Account, fromStartMs), out Book? moved))
            {
                return; // another node moved it already
            }

            Book book = BookOf(window);
            book.UsedUnits += moved.UsedUnits;
            foreach ((int nodeId, long lease) in moved.LeasedByNode)
            {
                book.LeasedByNode[nodeId] = book.LeasedByNode.GetValueOrDefault(nodeId) + lease;
            }
        }
    }

    /// <summary>The window's books, made on first sight; the quota follows the latest configuration a node sent.</summary>
    private Book BookOf(LeaseWindow window)
    {
        var key = new WindowKey(window.Account, window.WindowStartMs);
        if (!books.TryGetValue(key, out Book? book))
        {
            books[key] = book = new Book();
        }

        book.QuotaUnits = window.QuotaUnits;
        return book;
    }

    private readonly record struct WindowKey(AccountId Account, long WindowStartMs);

    private sealed class Book
    {
        public long QuotaUnits, UsedUnits;
        public readonly Dictionary<int, long> LeasedByNode = [];
    }

    private sealed class NodePort(InMemoryLeaseAuthority authority, int nodeId) : ILeaseAuthority
    {
        public ValueTask<long> GrantAsync(LeaseWindow window, long askedUnits, CancellationToken cancellationToken) =>
            ValueTask.FromResult(authority.Grant(nodeId, window, askedUnits));

        public ValueTask ReportAsync(LeaseWindow window, long chargedUnits, long givenBackUnits, CancellationToken cancellationToken)
        {
            authority.Report(nodeId, window, chargedUnits, givenBackUnits);
            return ValueTask.CompletedTask;
        }

        public ValueTask MoveAsync(long fromStartMs, LeaseWindow window, CancellationToken cancellationToken)
        {
            authority.Move(fromStartMs, window);
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>One window's books at an <see cref="InMemoryLeaseAuthority"/>.</summary>
/// <param name="Account">The account.</param>
/// <param name="WindowStartMs">The window's start, UTC Unix ms.</param>
/// <param name="QuotaUnits">The quota last sent.</param>
/// <param name="UsedUnits">Usage reported by every node.</param>
/// <param name="LeasedByNode">Each node's net lease: granted − given back − charges reported (negative: a debt the next grant pays).</param>
[System.Diagnostics.CodeAnalysis.Experimental("QE0001")]
public sealed record LeaseBook(AccountId Account, long WindowStartMs, long QuotaUnits, long UsedUnits, IReadOnlyDictionary<int, long> LeasedByNode);
