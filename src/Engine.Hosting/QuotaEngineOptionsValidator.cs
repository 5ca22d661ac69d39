using Microsoft.Extensions.Options;
using Quota.Engine.Persistence;

namespace Quota.Engine.Hosting;

/// <summary>
/// Validates <see cref="QuotaEngineOptions"/> with the engine's own checks (<see cref="PersistenceOptions.Validated"/>: one
/// validation source) and names the failing setting by its configuration path, e.g. <c>Quota:ReservationsMax must be a
/// power of two, 64 … 2^26 (was 100)</c>.
/// </summary>
internal sealed class QuotaEngineOptionsValidator(string sectionPath) : IValidateOptions<QuotaEngineOptions>
{
    public ValidateOptionsResult Validate(string? name, QuotaEngineOptions options)
    {
        if (!Enum.IsDefined(options.Durability))
        {
            return Fail(nameof(QuotaEngineOptions.Durability), "must be WriteBehind or Durable", options.Durability);
        }

        if (options.ReservationTtlSeconds is < 1 or > 86_400)
        {
            return Fail(nameof(QuotaEngineOptions.ReservationTtlSeconds), "must be 1 … 86400", options.ReservationTtlSeconds);
        }

        if (options.CommitIntervalMs is < 1 or > 10_000)
        {
            return Fail(nameof(QuotaEngineOptions.CommitIntervalMs), "must be 1 … 10000", options.CommitIntervalMs);
        }

        if (options.CheckpointIntervalSeconds < 1)
        {
            return Fail(nameof(QuotaEngineOptions.CheckpointIntervalSeconds), "must be at least 1", options.CheckpointIntervalSeconds);
        }

        try
        {
            options.ToPersistence().Validated();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException exception)
        {
            // The engine names its own setting; the reader knows the configuration's name for it.
            string setting = exception.ParamName switch
            {
                nameof(PersistenceOptions.CommitInterval) => nameof(QuotaEngineOptions.CommitIntervalMs),
                nameof(PersistenceOptions.CheckpointInterval) => nameof(QuotaEngineOptions.CheckpointIntervalSeconds),
                nameof(EngineOptions.ReservationTtl) => nameof(QuotaEngineOptions.ReservationTtlSeconds),
                { } other => other,
                null => "?",
            };
            string reason = exception is ArgumentOutOfRangeException outOfRange
                ? $"{FirstLine(outOfRange.Message)} (was {outOfRange.ActualValue})"
                : FirstLine(exception.Message);
            return ValidateOptionsResult.Fail($"{sectionPath}:{setting} {reason}");
        }
    }

    private ValidateOptionsResult Fail(string setting, string reason, object value) =>
        ValidateOptionsResult.Fail($"{sectionPath}:{setting} {reason} (was {value})");

    /// <summary>An ArgumentException's message ends with " (Parameter 'x')" and the actual value on lines of their own.</summary>
    private static string FirstLine(string message)
    {
        int end = message.IndexOfAny(['\r', '\n']);
        string line = end < 0 ? message : message[..end];
        int parameter = line.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter < 0 ? line : line[..parameter];
    }
}
