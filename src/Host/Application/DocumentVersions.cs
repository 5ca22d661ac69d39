using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Host.Application;

/// <summary>
/// The version of a key's or a user's configuration, as the admin API's <c>ETag</c> shows it and <c>If-Match</c> checks
/// it (docs/api.md "Versions"): a digest of what a save can change — a key's name, status as the operator set it,
/// unlimited flag, expiry and policies; a user's name and price group. Counters (usage, budget left, balance) are not
/// part of it: they move with every request, and a save that read them a second ago is not stale. The digest is the
/// same on every node of a cluster (each node applies the same documents), and after a restart.
/// </summary>
internal static class DocumentVersions
{
    public static string Of(TokenDocument label, TokenView view)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"t|{view.TokenId}|{view.UserId}|{JsonSerializer.Serialize(label.Name)}|{(int)view.OperatorStatus}|{view.UnlimitedQuota}|{view.ExpiresAtMs}"));
        foreach (PolicyView policy in view.Policies)
        {
            text.Append(CultureInfo.InvariantCulture, $"|{policy.Index}:{JsonSerializer.Serialize(policy.Spec)}");
        }

        return Digest(text.ToString());
    }

    public static string Of(UserDocument label) => Digest(string.Create(CultureInfo.InvariantCulture, $"u|{label.Id}|{JsonSerializer.Serialize(label.Name)}|{JsonSerializer.Serialize(label.Group)}"));

    /// <summary>Whether <paramref name="expected"/> (null: the caller sent none, so nothing is checked) is <paramref name="current"/>.</summary>
    public static bool Matches(string? expected, string current) => expected is null || expected == current;

    private static string Digest(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 8));
}
