// An embedder's first program against the Quota.Engine package: an in-memory engine (no files opened), then a
// durable one in a temporary directory that is closed and reopened, then the same in a generic host (Quota.Engine.Hosting). Exits 1 if any number is not what the rules say,
// so CI can count it.
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

int failures = 0;
void Check(bool condition, string what)
{
    Console.WriteLine($"{(condition ? "ok  " : "FAIL")} {what}");
    failures += condition ? 0 : 1;
}

// In memory: a wallet, a key with a daily policy of 100 units; reserve, settle, refund.
var engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 16, ReservationsMax = 1024 });
long now = engine.NowMs;
int user = engine.CreateUser(quotaUnits: 1_000).Id;
int key = engine.CreateToken(new TokenSpec
{
    UserId = user,
    RemainQuotaUnits = 500,
    Policies = [new QuotaPolicySpec { Mode = PeriodMode.Daily, QuotaUnits = 100, AnchorMs = now, TimeZone = "Europe/Berlin" }],
}, now).Id;

ReserveOutcome first = engine.Reserve(key, 60, now);
Check(first.IsOk, "reserve 60 of a daily 100");
FinishOutcome settled = engine.Settle(first.Id, 70, now);
Check(settled.Result == FinishResult.Ok && settled.ChargedUnits == 70, "settle at the actual 70");
Check(engine.Settle(first.Id, 70, now).Replayed, "a repeated settle returns the first outcome");

ReserveOutcome second = engine.Reserve(key, 20, now);
Check(engine.Refund(second.Id, now).Result == FinishResult.Ok, "refund a reservation");
Check(engine.ReadUser(user) is { UsedQuotaUnits: 70, ReservedQuotaUnits: 0 }, "the wallet is charged 70 and holds nothing");

ReserveOutcome third = engine.Reserve(key, 40, now);
Check(third.IsOk, "graceful boundary: 30 left, a request of 40 is admitted");
engine.Settle(third.Id, 40, now);
Check(engine.Reserve(key, 1, now).Result == ReserveResult.PolicyExhausted, "then the window is exhausted");

// Durable: the same operations survive a close and a reopen.
string dataDir = Path.Combine(Path.GetTempPath(), "quota-embedded-sample-" + Guid.NewGuid().ToString("N"));
try
{
    await using (PersistentEngine durable = PersistentEngine.Open(new PersistenceOptions { DataDir = dataDir, Durability = Durability.Durable }))
    {
        QuotaEngine e = durable.Engine;
        int u = e.CreateUser(quotaUnits: 1_000).Id;
        int k = e.CreateToken(new TokenSpec { UserId = u, RemainQuotaUnits = 500 }, e.NowMs).Id;
        ReserveOutcome r = e.Reserve(k, 25, e.NowMs);
        e.Settle(r.Id, 30, e.NowMs);
        await durable.AcknowledgeAsync();
    }

    await using (PersistentEngine reopened = PersistentEngine.Open(new PersistenceOptions { DataDir = dataDir }))
    {
        Check(reopened.Recovery.Corruption is null, "the data directory recovers cleanly");
        Check(reopened.Engine.ReadUser(1) is { UsedQuotaUnits: 30 }, "the settle survived the reopen");
    }
}
finally
{
    Directory.Delete(dataDir, recursive: true);
}

// The generic host (package Quota.Engine.Hosting): the same books across a stop and a start.
string hostDataDir = Path.Combine(Path.GetTempPath(), "quota-embedded-sample-host-" + Guid.NewGuid().ToString("N"));
try
{
    await GenericHostDoor.RunAsync(hostDataDir, Check);
}
finally
{
    Directory.Delete(hostDataDir, recursive: true);
}

Console.WriteLine(failures == 0 ? "embedded sample: ok" : $"embedded sample: {failures} checks failed");
return failures == 0 ? 0 : 1;
