namespace Quota.Engine.Model;

/// <summary>
/// A periodic quota policy as configured by an operator: the input of SaveToken. It carries no counters
/// (client-sent counters are ignored by design, W12); the engine owns used/reserved/window state.
/// </summary>
public sealed record QuotaPolicySpec
{
    public bool Enabled { get; init; } = true;
    public PeriodMode Mode { get; init; } = PeriodMode.Daily;
    /// <summary>Window length in minutes; only for <see cref="PeriodMode.Custom"/>.</summary>
    public int CustomMinutes { get; init; }
    public long QuotaUnits { get; init; }
    /// <summary>The instant windows are aligned to, UTC Unix milliseconds.</summary>
    public long AnchorMs { get; init; }
    /// <summary>IANA zone id for calendar periods.</summary>
    public string TimeZone { get; init; } = "UTC";
    public ExhaustedAction ExhaustedAction { get; init; } = ExhaustedAction.RejectOnly;
    public BoundaryMode BoundaryMode { get; init; } = BoundaryMode.Graceful;
    public bool AutoResume { get; init; } = true;
}
