// Prints the delta log of a data directory, record by record, with a summary: for operators debugging a recovery.
// Usage: dotnet run --project tools/LogDump -- <data dir> [--summary] [--from-sequence N]
// Run it on a stopped data directory (or a copy): the log is opened for recovery, like the host does.
using System.Globalization;
using Quota.Engine.Persistence;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: LogDump <data dir> [--summary] [--from-sequence N]");
    return 2;
}

string dataDir = args[0];
bool summaryOnly = args.Contains("--summary");
int fromIndex = Array.IndexOf(args, "--from-sequence");
long fromSequence = fromIndex >= 0 && fromIndex + 1 < args.Length ? long.Parse(args[fromIndex + 1], CultureInfo.InvariantCulture) : 0;
if (!Directory.Exists(Path.Combine(dataDir, "log")))
{
    Console.Error.WriteLine($"no delta log under {Path.GetFullPath(dataDir)}/log");
    return 1;
}

using (var store = new LiteConfigStore(Path.Combine(dataDir, "quota.db")))
{
    SnapshotDocument? snapshot = store.LatestSnapshot;
    Console.WriteLine(snapshot is null
        ? "snapshot: none (recovery replays the whole log)"
        : $"snapshot: through sequence {snapshot.Sequence}, {snapshot.Bytes:N0} bytes, taken {DateTimeOffset.FromUnixTimeMilliseconds(snapshot.CreatedMs):u}; replay resumes at log address {snapshot.ResumeAddress}");
}

using var log = new FasterDeltaLog(Path.Combine(dataDir, "log"));
Console.WriteLine($"log: addresses {log.BeginAddress} … {log.TailAddress}");
var counts = new SortedDictionary<DeltaKind, long>();
long records = 0, entries = 0, firstSequence = -1, lastSequence = -1;
foreach (LogEntry entry in log.Scan(log.BeginAddress))
{
    entries++;
    ReadOnlySpan<byte> bytes = entry.Bytes.Span;
    for (int offset = 0; offset < bytes.Length;)
    {
        DecodeStatus status = DeltaRecordCodec.TryRead(bytes[offset..], out DeltaRecord r, out long sequence, out ReadOnlySpan<byte> payload, out int size);
        if (status != DecodeStatus.Ok)
        {
            Console.WriteLine($"CORRUPT: {status} at log address {entry.Address} + {offset}; recovery stops before this record");
            return 3;
        }

        records++;
        counts[r.Kind] = counts.GetValueOrDefault(r.Kind) + 1;
        firstSequence = firstSequence < 0 ? sequence : firstSequence;
        lastSequence = sequence;
        if (!summaryOnly && sequence >= fromSequence)
        {
            string at = r.AtMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(r.AtMs).ToString("u", CultureInfo.InvariantCulture) : "-";
            string extra = payload.IsEmpty ? "" : " " + System.Text.Encoding.UTF8.GetString(payload);
            Console.WriteLine(FormattableString.Invariant(
                $"#{sequence} @{entry.Address}+{offset} {r.Kind} token={r.TokenId} user={r.UserId} policy={r.PolicyIndex} {Describe(r)} at={at}{extra}"));
        }

        offset += size;
    }
}

Console.WriteLine($"summary: {records:N0} records in {entries:N0} entries, sequences {firstSequence} … {lastSequence}");
foreach ((DeltaKind kind, long count) in counts)
{
    Console.WriteLine($"  {kind,-12} {count,12:N0}");
}

return 0;

// What each kind holds, by name (the record's accessors are the one place that knows the layout).
static string Describe(DeltaRecord r) => r.Kind switch
{
    DeltaKind.Reserve => FormattableString.Invariant($"reservation={r.ReservationId} amount={r.EstimateUnits} mask={r.PolicyMask} shadow_refused={r.ShadowRefusedMask} generations={r.Generations:x} request_key={r.RequestKey:x}"),
    DeltaKind.Settle or DeltaKind.Expire => FormattableString.Invariant($"reservation={r.ReservationId} estimate={r.EstimateUnits} charged={r.ChargedUnits} exhausted={r.ExhaustedReply} marks={r.Marks}"),
    DeltaKind.Refund => FormattableString.Invariant($"reservation={r.ReservationId} estimate={r.EstimateUnits}"),
    DeltaKind.KeepAlive => FormattableString.Invariant($"reservation={r.ReservationId}"),
    DeltaKind.WindowReset => FormattableString.Invariant($"generation={r.Generation} quota={r.QuotaUnits} start={r.WindowStartMs} end={r.WindowEndMs} leased={r.StartsLeased} restores={r.Restores}"),
    DeltaKind.ManualReset => FormattableString.Invariant($"cleared={r.ClearedUnits} restores={r.Restores}"),
    DeltaKind.UserCredit => FormattableString.Invariant($"delta={r.DeltaUnits}"),
    DeltaKind.RunStarted => FormattableString.Invariant($"epoch={r.Epoch}"),
    DeltaKind.LeaseGrant => FormattableString.Invariant($"policy={r.PolicyIndex} generation={r.Generation} granted={r.GrantedUnits}"),
    DeltaKind.LeaseReport => FormattableString.Invariant($"policy={r.PolicyIndex} generation={r.Generation} charged={r.ReportedChargedUnits} given_back={r.GivenBackUnits} closing={r.Closing}"),
    _ => "",
};
