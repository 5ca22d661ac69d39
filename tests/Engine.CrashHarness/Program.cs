// Crash-test child: opens the persistent engine in a data directory and runs concurrent reserve/settle/refund and
// saves until it is killed. After each operation is acknowledged (Durable: after its group commit) it prints one line
// ending with the log sequence its record is at or before (everything up to it was appended):
//   R <reservation id> <token> <amount> <seq>   reserve acknowledged
//   S <reservation id> <actual> <seq>           settle acknowledged
//   F <reservation id> <seq>                    refund acknowledged
//   U <v> <seq>                                 key 5 saved with remain_quota = v and a strict policy of quota v
//   K <token> <v> <seq>                         a key created with remain_quota = v and a policy of quota v
//   C <sequence>                                everything up to this log sequence is committed
// A run makes at most ReservesPerRun reservations (then idles), so that no record is made and recycled between two
// of the parent's looks at the table. The parent kills it with SIGKILL at a random moment and checks every line.
using System.Globalization;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

const int ReservesPerRun = 30_000;
string dataDir = args[0];
var durability = Enum.Parse<Durability>(args[1]);
int seed = int.Parse(args[2], CultureInfo.InvariantCulture);

var engine = PersistentEngine.Open(new PersistenceOptions
{
    DataDir = dataDir,
    Durability = durability,
    CheckpointInterval = TimeSpan.FromMilliseconds(700), // checkpoints race with the load and with the kill
    Engine = new EngineOptions { KeysMax = 1 << 16, UsersMax = 8, ReservationsMax = 1 << 16 },
});
QuotaEngine quota = engine.Engine;
long now = quota.NowMs;
if (quota.ReadToken(1, now) is null)
{
    int user = quota.CreateUser(1L << 40).Id;
    for (int i = 0; i < 5; i++)
    {
        // Keys 3 and 4 add a tokens policy and a model-scoped requests policy: recovery must be exact with mixed metrics.
        QuotaPolicySpec spend = new() { Mode = PeriodMode.Daily, QuotaUnits = 1L << 40, AnchorMs = now };
        QuotaPolicySpec[] policies = i is 2 or 3
            ? [spend, spend with { Metric = PolicyMetric.Tokens }, spend with { Metric = PolicyMetric.Requests, Mode = PeriodMode.Custom, CustomMinutes = 1, Models = ["gpt-4*"] }]
            : [spend];
        quota.CreateToken(new TokenSpec { UserId = user, RemainQuotaUnits = 1L << 40, Policies = policies }, now);
    }

    await engine.Writer.FlushAsync(); // durable before "ready", in either mode: the parent's checks start from it
}

var output = TextWriter.Synchronized(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
output.WriteLine("ready");
_ = Task.Run(async () =>
{
    while (true)
    {
        output.WriteLine(FormattableString.Invariant($"C {engine.Writer.CommittedThrough}"));
        await Task.Delay(10);
    }
});

int reserves = 0;
Task saves = Task.Run(async () =>
{
    var random = new Random(seed);
    for (long v = 1; ; v++)
    {
        QuotaPolicySpec policy = new() { Mode = PeriodMode.Daily, QuotaUnits = v, AnchorMs = now, BoundaryMode = BoundaryMode.Strict };
        if (random.Next(2) == 0)
        {
            if (quota.UpdateToken(5, new TokenUpdate { RemainQuotaUnits = v, Policies = [policy] }, quota.NowMs).IsOk)
            {
                await engine.AcknowledgeAsync();
                output.WriteLine(FormattableString.Invariant($"U {v} {engine.Writer.AppendedThrough}"));
            }
        }
        else if (quota.CreateToken(new TokenSpec { UserId = 1, RemainQuotaUnits = v, Policies = [policy] }, quota.NowMs) is { IsOk: true } created)
        {
            await engine.AcknowledgeAsync();
            output.WriteLine(FormattableString.Invariant($"K {created.Id} {v} {engine.Writer.AppendedThrough}"));
        }

        await Task.Delay(1);
    }
});

await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
{
    var random = new Random(seed * 100 + worker);
    while (true)
    {
        if (Interlocked.Increment(ref reserves) > ReservesPerRun)
        {
            await Task.Delay(1000);
            continue;
        }

        int token = random.Next(1, 5);
        long amount = random.Next(1, 100);
        ReserveOutcome reserved = quota.Reserve(token, new ReserveRequest(amount, Tokens: amount * 10, Model: worker % 2 == 0 ? "gpt-4o" : null), quota.NowMs);
        if (!reserved.IsOk)
        {
            continue;
        }

        await engine.AcknowledgeAsync();
        output.WriteLine(FormattableString.Invariant($"R {reserved.Id} {token} {amount} {engine.Writer.AppendedThrough}"));
        if (random.Next(3) == 0)
        {
            quota.Refund(reserved.Id, quota.NowMs);
            await engine.AcknowledgeAsync();
            output.WriteLine(FormattableString.Invariant($"F {reserved.Id} {engine.Writer.AppendedThrough}"));
        }
        else
        {
            long actual = random.Next(0, 150);
            quota.Settle(reserved.Id, actual, actualTokens: actual * 7, quota.NowMs);
            await engine.AcknowledgeAsync();
            output.WriteLine(FormattableString.Invariant($"S {reserved.Id} {actual} {engine.Writer.AppendedThrough}"));
        }
    }
})).Append(saves));
