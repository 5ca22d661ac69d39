// Keeps what the host writes private to the user it runs as (docs/operations.md "The data directory"): the data
// directory holds every key's hash, the admin key and the usage log. The process's file-mode creation mask is set to
// 077 before anything is created, so every directory is 0700 and every file 0600 from its first byte, including the
// files LiteDB, FASTER and ASP.NET's data protection create themselves (they take no mode): no create-then-chmod window.
using System.Runtime.InteropServices;

namespace Quota.Host.Runtime;

internal static class PrivateFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OthersAccess = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>From now on, files and directories this process creates have no group or other permissions (umask 077).</summary>
    public static void RestrictNewFiles()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = SetCreationMask((uint)OthersAccess);
        }
    }

    /// <summary>Creates <paramref name="directory"/> 0700; an existing one is left as it is. Returns its mode when group or others have any access to it.</summary>
    public static UnixFileMode? Prepare(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return null;
        }

        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, DirectoryMode);
            return null;
        }

        UnixFileMode mode = File.GetUnixFileMode(directory);
        return (mode & OthersAccess) != 0 ? mode : null;
    }

    /// <summary>Writes a new secret file, created 0600 (it must not exist).</summary>
    public static void WriteSecret(string path, string text)
    {
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        using var writer = new StreamWriter(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options); // no BOM: `$(cat admin.key)` must be the key
        writer.Write(text);
    }

    /// <summary>umask(2): sets the mask and returns the previous one. DllImport, not LibraryImport: that one needs the project to allow unsafe code, for one call with nothing to marshal.</summary>
    [DllImport("libc", EntryPoint = "umask")]
    private static extern uint SetCreationMask(uint mask);
}
