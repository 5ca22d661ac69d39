using Quota.Engine;
using Quota.Engine.Model;
using Quota.Host.Errors;
using Quota.Host.Runtime;

namespace Quota.Host.Admin;

/// <summary>The body of a simulation: the proposed policies (validated like a PUT) and the period, Unix seconds.</summary>
public sealed class SimulationInput
{
    public PolicyInput[]? QuotaPolicies { get; set; }
    public long? From { get; set; }
    public long? To { get; set; }
}

public sealed record SimulatedRefusal(long Time, int PolicyIndex, string Reason);

public sealed record SimulatedPolicy(int PolicyIndex, int WouldRefuse);

public sealed record SimulatedDay(long Start, int Requests, int WouldRefuse);

public sealed record SimulationResponse(
    long From, long To, int Requests, int WouldRefuse, IReadOnlyList<SimulatedRefusal> Refused, bool RefusedTruncated,
    IReadOnlyList<SimulatedPolicy> ByPolicy, IReadOnlyList<SimulatedDay> ByDay);

/// <summary>
/// <c>POST /api/tokens/{id}/quota_policies/simulate</c> (docs/api.md "Simulating policies"): the key's consume log
/// replayed under proposed policies by <see cref="PolicySimulation"/>. Reads only: nothing is saved or logged.
/// </summary>
public static class SimulationEndpoints
{
    public static RouteGroupBuilder MapPolicySimulation(this RouteGroupBuilder group)
    {
        group.MapPost("/{id:int}/quota_policies/simulate", SimulateAsync).Accepts<SimulationInput>("application/json")
            .WithSummary("Replay the key's consume log under proposed policies: what they would have refused")
            .Produces<SimulationResponse>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    private static async Task<IResult> SimulateAsync(int id, HttpRequest request, QuotaRuntime runtime, Application.KeyService keys)
    {
        if (keys.Find(id) is null)
        {
            return Problem.NotFound($"token {id}");
        }

        JsonBody.Outcome<SimulationInput> body = await JsonBody.ReadAsync<SimulationInput>(request);
        if (!body.IsOk)
        {
            return Problem.BadBody(body);
        }

        SimulationInput input = body.Value!;
        (long fromMs, long toMs, string? badField, string? badMessage) = Period(input, runtime.NowMs);
        if (badField is not null)
        {
            return Problem.Invalid(badField, badMessage!);
        }

        if (input.QuotaPolicies is null)
        {
            return Problem.Invalid("quota_policies", "is required");
        }

        // An absent anchor_time is the period's start (a PUT's is now): windows then tile the whole period.
        QuotaPolicySpec[] policies = [.. input.QuotaPolicies.Select(p => PolicyJson.Parse(p ?? new PolicyInput(), fromMs))];
        (SpecError error, int index) = SpecValidation.Validate(new TokenUpdate { Policies = policies });
        if (error != SpecError.None)
        {
            return TokenEndpoints.SaveError(new SaveOutcome(error, id, index), "quota_policies[{0}].");
        }

        if (PolicySimulation.LoadRequests(runtime.Store, id, fromMs, toMs, out int rows) is not { } requests)
        {
            return Problem.Invalid("from", $"the period holds {rows} requests of this key; a simulation replays at most {PolicySimulation.RowsMax}: choose a shorter period");
        }

        PolicySimulation.Outcome outcome = PolicySimulation.Run(policies, requests, fromMs, toMs);
        return Results.Ok(ToJson(outcome, fromMs, toMs));
    }

    /// <summary>The period in ms: <c>to</c> defaults to now, <c>from</c> to 30 days before <c>to</c>; or the field that is wrong.</summary>
    private static (long FromMs, long ToMs, string? Field, string? Error) Period(SimulationInput input, long nowMs)
    {
        long toMs = input.To is { } to ? PolicyJson.SecondsToMs(to) : nowMs;
        if (toMs is <= 0 or > EngineLimits.TimeMaxMs)
        {
            return (0, 0, "to", $"must be a Unix time in seconds from 1 to {EngineLimits.TimeMaxMs / 1000}");
        }

        long fromMs = input.From is { } from ? PolicyJson.SecondsToMs(from) : toMs - PolicySimulation.DefaultPeriodMs;
        if (fromMs < 0 || fromMs >= toMs)
        {
            return (0, 0, "from", "must be a Unix time in seconds before to");
        }

        return toMs - fromMs > PolicySimulation.PeriodMaxMs
            ? (0, 0, "from", $"the period must be at most {PolicySimulation.PeriodMaxMs / 86_400_000} days")
            : (fromMs, toMs, null, null);
    }

    private static SimulationResponse ToJson(PolicySimulation.Outcome outcome, long fromMs, long toMs) => new(
        fromMs / 1000,
        toMs / 1000,
        outcome.Requests,
        outcome.WouldRefuse,
        [.. outcome.Refused.Select(r => new SimulatedRefusal(r.AtMs / 1000, r.PolicyIndex, PolicySimulation.ReasonName(r.Reason)))],
        outcome.Refused.Count < outcome.WouldRefuse,
        [.. outcome.ByPolicy.Select((count, index) => new SimulatedPolicy(index, count))],
        [.. outcome.ByDay.Select(d => new SimulatedDay(d.StartMs / 1000, d.Requests, d.WouldRefuse))]);
}
