using Quota.Engine.Diagnostics;
using Quota.Engine.Model;

namespace Quota.Engine.Tests.Support;

/// <summary>Collects audit events (tests only: allocates).</summary>
internal sealed class AuditLog : IAuditSink
{
    private readonly List<AuditEvent> events = [];

    public void Record(in AuditEvent auditEvent)
    {
        lock (events)
        {
            events.Add(auditEvent);
        }
    }

    public IReadOnlyList<AuditEvent> Events
    {
        get
        {
            lock (events)
            {
                return events.ToArray();
            }
        }
    }

    public IReadOnlyList<AuditEvent> For(int tokenId) => Events.Where(e => e.TokenId == tokenId).ToArray();

    /// <summary>How many times a checkpoint asked this sink to make its events durable.</summary>
    public int Checkpoints => Volatile.Read(ref checkpoints);

    private int checkpoints;

    public void BeforeCheckpoint() => Interlocked.Increment(ref checkpoints);
}

/// <summary>An engine with a controllable clock and helpers that keep tests short.</summary>
internal sealed class TestEngine
{
    public static readonly long T0 = At("2026-06-27T01:15:00Z");

    public TestEngine(long nowMs = 0, EngineOptions? options = null, Quota.Engine.Persistence.IDeltaSink? deltas = null, Quota.Engine.Leases.ILeaseAuthority? leases = null)
    {
        NowMs = nowMs == 0 ? T0 : nowMs;
        Options = options ?? new EngineOptions { KeysMax = 1024, UsersMax = 1024, ReservationsMax = 4096 };
        Engine = new QuotaEngine(Options, deltas, Audit, leases: leases);
    }

    public EngineOptions Options { get; }

    public QuotaEngine Engine { get; }
    public AuditLog Audit { get; } = new();
    public long NowMs { get; set; }

    public static long At(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

    public void Advance(TimeSpan by) => NowMs += (long)by.TotalMilliseconds;

    public int User(long quota = 1_000_000)
    {
        SaveOutcome outcome = Engine.CreateUser(quota);
        Assert.True(outcome.IsOk, outcome.Error.ToString());
        return outcome.Id;
    }

    public int Token(int userId, long remain = 1000, params QuotaPolicySpec[] policies) =>
        Token(new TokenSpec { UserId = userId, RemainQuotaUnits = remain, Policies = policies });

    public int Token(TokenSpec spec)
    {
        SaveOutcome outcome = Engine.CreateToken(spec, NowMs);
        Assert.True(outcome.IsOk, outcome.Error.ToString());
        return outcome.Id;
    }

    public static QuotaPolicySpec Policy(
        long quota,
        PeriodMode mode = PeriodMode.Preset5h,
        BoundaryMode boundary = BoundaryMode.Graceful,
        ExhaustedAction action = ExhaustedAction.RejectOnly,
        bool autoResume = true,
        long anchorMs = 0,
        string timeZone = "UTC",
        int customMinutes = 0) => new()
        {
            QuotaUnits = quota,
            Mode = mode,
            BoundaryMode = boundary,
            ExhaustedAction = action,
            AutoResume = autoResume,
            AnchorMs = anchorMs == 0 ? T0 : anchorMs,
            TimeZone = timeZone,
            CustomMinutes = customMinutes,
        };

    public ReserveOutcome Reserve(int tokenId, long amount) => Engine.Reserve(tokenId, amount, NowMs);

    public ReservationId ReserveOk(int tokenId, long amount)
    {
        ReserveOutcome outcome = Reserve(tokenId, amount);
        Assert.Equal(ReserveResult.Ok, outcome.Result);
        return outcome.Id;
    }

    public FinishOutcome Settle(ReservationId id, long actual) => Engine.Settle(id, actual, NowMs);

    public FinishOutcome Refund(ReservationId id) => Engine.Refund(id, NowMs);

    public TokenView Read(int tokenId) => Engine.ReadToken(tokenId, NowMs) ?? throw new InvalidOperationException("no token");

    public PolicyView Policy0(int tokenId) => Read(tokenId).Policies[0];
}
