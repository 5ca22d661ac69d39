using Quota.Ctl.Http;

namespace Quota.Ctl.Cli;

/// <summary>What every command gets: the admin API client, the terminal, and the cancellation of the run.</summary>
internal sealed class CommandContext(AdminClient api, Terminal terminal, CancellationToken cancellationToken)
{
    public AdminClient Api { get; } = api;
    public Terminal Terminal { get; } = terminal;
    public CancellationToken CancellationToken { get; } = cancellationToken;
}
