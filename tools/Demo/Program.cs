// A walk-through of the engine for a new user: a key with a daily policy goes through
// reserve → settle → exhaustion (the key is paused) → the next day's reset (the key is restored).
using System.Globalization;
using Quota.Engine;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

var audit = new ConsoleAudit();
var engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 16, ReservationsMax = 1024 }, audit: audit);
long now = DateTimeOffset.Parse("2026-11-28T09:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

int user = engine.CreateUser(quotaUnits: 10_000_000).Id;
int token = engine.CreateToken(new TokenSpec
{
    UserId = user,
    RemainQuotaUnits = 5_000_000,
    Policies =
    [
        new QuotaPolicySpec
        {
            Mode = PeriodMode.Daily,
            QuotaUnits = 100_000,
            AnchorMs = now,
            TimeZone = "Europe/Berlin",
            ExhaustedAction = ExhaustedAction.DisableToken,
        },
    ],
}, now).Id;
Show("created a key with a daily policy of 100,000 units (Europe/Berlin, pause on exhaustion)");

ReserveOutcome first = engine.Reserve(token, 60_000, now);
Console.WriteLine($"reserve 60,000 → {first.Result}");
Console.WriteLine($"settle at 70,000 → {engine.Settle(first.Id, 70_000, now)}");
Show("after the first request");

ReserveOutcome second = engine.Reserve(token, 60_000, now);
Console.WriteLine($"reserve 60,000 → {second.Result} (graceful: the boundary request may finish)");
Console.WriteLine($"settle at 45,000 → {engine.Settle(second.Id, 45_000, now)}");
Show("after the boundary request");

Console.WriteLine($"reserve 1 → {engine.Reserve(token, 1, now).Result}");

now += TimeSpan.FromDays(1).Ticks / TimeSpan.TicksPerMillisecond;
Console.WriteLine($"one day later, reserve 1 → {engine.Reserve(token, 1, now).Result}");
Show("after the reset");

void Show(string title)
{
    TokenView view = engine.ReadToken(token, now)!;
    PolicyView policy = view.Policies[0];
    Console.WriteLine($"  [{title}] key status {view.Status}, remain {view.RemainQuotaUnits:N0}; window " +
        $"{DateTimeOffset.FromUnixTimeMilliseconds(policy.PeriodStartMs):u} → {DateTimeOffset.FromUnixTimeMilliseconds(policy.PeriodEndMs):u}, " +
        $"used {policy.UsedQuotaUnits:N0} of {policy.Spec.QuotaUnits:N0}");
}

internal sealed class ConsoleAudit : IAuditSink
{
    public void Record(in AuditEvent auditEvent) =>
        Console.WriteLine($"  audit: {auditEvent.Action} (token {auditEvent.TokenId}, used {auditEvent.UsedQuotaUnits:N0} of {auditEvent.QuotaUnits:N0})");
}
