namespace Quota.Ctl.Cli;

/// <summary>The process exit codes scripts can rely on.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The API answered with an error (its problem detail is printed), or could not be reached.</summary>
    public const int ApiError = 1;

    /// <summary>The command line (or an input file) was wrong; nothing was sent.</summary>
    public const int Usage = 2;
}

/// <summary>A usage error found after parsing (a value the parser cannot check, an unreadable file): exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
