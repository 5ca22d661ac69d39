using Microsoft.Extensions.DependencyInjection;
using Quota.Engine.Hosting;
using Quota.Engine.Model;

namespace Quota.Engine.AI;

/// <summary>
/// The engine calls both middleware make: reserve (a refusal becomes <see cref="QuotaExceededException"/>), settle, refund,
/// each counted on the engine's meter when the application has one. Thread-safe (the engine's operations are lock-free).
/// </summary>
internal sealed class QuotaGate(QuotaEngine engine, TimeProvider time, QuotaEngineMetrics? metrics)
{
    /// <summary>An explicit engine, or the application's one from <paramref name="services"/>.</summary>
    public static QuotaGate For(QuotaAIOptions options, IServiceProvider? services)
    {
        QuotaEngineMetrics? metrics = services?.GetService<QuotaEngineMetrics>();
        if (options.Engine is { } engine)
        {
            return new QuotaGate(engine, options.Time ?? TimeProvider.System, metrics);
        }

        QuotaEngineHost host = services?.GetService<QuotaEngineHost>()
            ?? throw new InvalidOperationException("UseQuota needs an engine: set Engine in its options, or register one with services.AddQuotaEngine(…)");
        return new QuotaGate(host.Engine, options.Time ?? host.Time, metrics);
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public ReservationId Reserve(int key, long units, long tokens, string? model)
    {
        long now = NowMs;
        ReserveOutcome outcome = engine.Reserve(key, new ReserveRequest(Math.Clamp(units, 1, EngineLimits.AmountMaxUnits), Math.Min(tokens, EngineLimits.TokensMax), model), now);
        metrics?.RecordDecision(outcome.Result);
        return outcome.IsOk ? outcome.Id : throw new QuotaExceededException(QuotaRefusal.Explain(engine, key, outcome, now));
    }

    public void Settle(ReservationId id, long units, long tokens)
    {
        FinishOutcome outcome = engine.Settle(id, Math.Clamp(units, 0, EngineLimits.AmountMaxUnits), Math.Clamp(tokens, 0, EngineLimits.TokensMax), NowMs);
        if (outcome.Result == FinishResult.Ok && !outcome.Replayed)
        {
            metrics?.RecordCharge(outcome.ChargedUnits);
        }
    }

    public void Refund(ReservationId id) => engine.Refund(id, NowMs);

    /// <summary>The simple estimate: a token per four characters, rounded up.</summary>
    public static long TokensOfText(long characters) => (characters + 3) / 4;
}
