using Quota.Engine;
using Quota.Engine.Model;

namespace Quota.Integrations.Tests.Support;

/// <summary>An in-memory engine with one wallet and one key, and the numbers the tests compare.</summary>
internal sealed class Books
{
    public Books(long walletUnits = 1_000_000, params QuotaPolicySpec[] policies)
    {
        Engine = new QuotaEngine(new EngineOptions { KeysMax = 16, UsersMax = 16, ReservationsMax = 1024 });
        UserId = Engine.CreateUser(walletUnits).Id;
        KeyId = Engine.CreateToken(new TokenSpec { UserId = UserId, RemainQuotaUnits = walletUnits, Policies = policies }, Engine.NowMs).Id;
    }

    public QuotaEngine Engine { get; }
    public int UserId { get; }
    public int KeyId { get; }

    public UserView Wallet => Engine.ReadUser(UserId)!;

    /// <summary>What the wallet holds for open reservations: zero once every lease is released.</summary>
    public long Reserved => Wallet.ReservedQuotaUnits;

    public long Used => Wallet.UsedQuotaUnits;

    public static QuotaPolicySpec Requests(int perWindow, PeriodMode mode = PeriodMode.Daily, int customMinutes = 0) => new()
    {
        Mode = mode, CustomMinutes = customMinutes, Metric = PolicyMetric.Requests, QuotaUnits = perWindow, AnchorMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
    };

    public static QuotaPolicySpec Daily(long units, BoundaryMode boundary = BoundaryMode.Graceful) => new()
    {
        Mode = PeriodMode.Daily, QuotaUnits = units, BoundaryMode = boundary, AnchorMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
    };
}
