namespace Quota.Engine.Accounts;

/// <summary>
/// Which ids of one table (users or keys) are taken, and the largest taken so far. An id is taken by one CAS on its
/// claim, before anything about it is logged: of any number of creates racing for one id — naming it (cluster mode)
/// or taking the next dense one — exactly one wins, and the others learn that it is taken before they append anything.
/// A claim is never released: a create that holds one cannot fail any more.
/// </summary>
internal sealed class IdClaims(int max)
{
    private readonly byte[] claimed = new byte[max + 1];
    private int last;

    /// <summary>The largest id taken (0: none).</summary>
    public int Last => Volatile.Read(ref last);

    /// <summary>Takes an id chosen by the caller: false if it is out of range or already taken.</summary>
    public bool TryTake(int id)
    {
        if (id < 1 || id > max || Interlocked.CompareExchange(ref claimed[id], 1, 0) != 0)
        {
            return false;
        }

        int current;
        while ((current = Volatile.Read(ref last)) < id && Interlocked.CompareExchange(ref last, id, current) != current)
        {
        }

        return true;
    }

    /// <summary>Takes the next id after the largest taken (skipping one a caller named meanwhile); 0 when the table is full.</summary>
    public int TakeNext()
    {
        while (true)
        {
            int current = Volatile.Read(ref last);
            if (current >= max)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref last, current + 1, current) == current &&
                Interlocked.CompareExchange(ref claimed[current + 1], 1, 0) == 0)
            {
                return current + 1;
            }
        }
    }

    /// <summary>Marks an id recovered from the log or a snapshot as taken (recovery only, single-threaded).</summary>
    public void Recover(int id)
    {
        claimed[id] = 1;
        last = Math.Max(last, id);
    }
}
