// Crash-test child: opens the persistent engine in a data directory and runs concurrent reserve/settle/refund
// until it is killed. After each operation is acknowledged (Durable: after its group commit) it prints one line:
//   R <reservation id> <token> <amount>   reserve acknowledged
//   S <reservation id> <actual>           settle acknowledged
//   F <reservation id>                    refund acknowledged
//   C <sequence>                          everything up to this log sequence is committed
// The parent kills it with SIGKILL at a random moment, recovers the directory and checks every line.
using System.Globalization;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

string dataDir = args[0];
var durability = Enum.Parse<Durability>(args[1]);
int seed = int.Parse(args[2], CultureInfo.InvariantCulture);

var engine = PersistentEngine.Open(new PersistenceOptions
{
    DataDir = dataDir,
    Durability = durability,
    CheckpointInterval = TimeSpan.FromMilliseconds(700), // checkpoints race with the load and with the kill
    Engine = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 1 << 16 },
});
QuotaEngine quota = engine.Engine;
long now = quota.NowMs;
if (quota.ReadToken(1, now) is null)
{
    int user = quota.CreateUser(1L << 40).Id;
    for (int i = 0; i < 4; i++)
    {
        quota.CreateToken(new TokenSpec
        {
            UserId = user,
            RemainQuotaUnits = 1L << 40,
            Policies = [new QuotaPolicySpec { Mode = PeriodMode.Daily, QuotaUnits = 1L << 40, AnchorMs = now }],
        }, now);
    }

    await engine.AcknowledgeAsync();
}

var output = TextWriter.Synchronized(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
output.WriteLine("ready");
var committed = Task.Run(async () =>
{
    while (true)
    {
        output.WriteLine(FormattableString.Invariant($"C {engine.Writer.CommittedThrough}"));
        await Task.Delay(10);
    }
});

await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
{
    var random = new Random(seed * 100 + worker);
    while (true)
    {
        int token = random.Next(1, 5);
        long amount = random.Next(1, 100);
        ReserveOutcome reserved = quota.Reserve(token, amount, quota.NowMs);
        if (!reserved.IsOk)
        {
            continue;
        }

        await engine.AcknowledgeAsync();
        output.WriteLine(FormattableString.Invariant($"R {reserved.Id} {token} {amount}"));
        if (random.Next(3) == 0)
        {
            quota.Refund(reserved.Id, quota.NowMs);
            await engine.AcknowledgeAsync();
            output.WriteLine(FormattableString.Invariant($"F {reserved.Id}"));
        }
        else
        {
            long actual = random.Next(0, 150);
            quota.Settle(reserved.Id, actual, quota.NowMs);
            await engine.AcknowledgeAsync();
            output.WriteLine(FormattableString.Invariant($"S {reserved.Id} {actual}"));
        }
    }
})));
