// Seeds a host data directory with many keys and log rows, through the engine and the config store directly (the admin
// API would take hours at a million keys): bench/scale-admin.sh then starts the real host on it and times its pages.
using System.Security.Cryptography;
using System.Text;
using Quota.Engine;
using Quota.Engine.Model;
using Quota.Engine.Persistence;

namespace Quota.Benchmarks;

public static class ScaleSeed
{
    private static readonly string[] Teams = ["search", "billing", "mobile", "web", "data", "infra", "support", "growth", "ml", "edge"];

    /// <summary>
    /// <paramref name="keys"/> keys over keys/100 users: names "team-key-0000042", every 97th disabled, every 53rd
    /// exhausted (no budget left), the rest enabled; <paramref name="logRows"/> rows over 60 days, one in 500 a system row.
    /// </summary>
    public static async Task RunAsync(string dataDir, int keys, int logRows, TextWriter output)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using PersistentEngine persistent = PersistentEngine.Open(new PersistenceOptions { DataDir = dataDir, CheckpointInterval = TimeSpan.FromHours(1) });
        QuotaEngine engine = persistent.Engine;
        int users = Math.Max(1, keys / 100);
        for (int u = 0; u < users; u++)
        {
            Created(() => engine.CreateUser(1_000_000_000_000));
            persistent.Store.UpsertUser(new UserDocument { Id = u + 1, Name = "user-" + (u + 1), CreatedMs = now });
        }

        var labels = new List<TokenDocument>(10_000);
        for (int i = 1; i <= keys; i++)
        {
            var spec = new TokenSpec
            {
                UserId = 1 + (i % users),
                RemainQuotaUnits = i % 53 == 0 ? 0 : 1_000_000_000,
                Status = i % 97 == 0 ? TokenStatus.Disabled : TokenStatus.Enabled,
            };
            int id = Created(() => engine.CreateToken(spec, now));
            labels.Add(new TokenDocument
            {
                Id = id,
                UserId = spec.UserId,
                Name = $"{Teams[i % Teams.Length]}-key-{i:D7}",
                KeyHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("sk-seed-" + i))),
                KeyPreview = "sk-seed…" + (i % 10_000).ToString("D4", System.Globalization.CultureInfo.InvariantCulture),
                CreatedMs = now,
            });
            if (labels.Count == labels.Capacity || i == keys)
            {
                persistent.Store.InsertTokens(labels);
                labels.Clear();
            }
        }

        output.WriteLine($"{keys} keys over {users} users: {started.Elapsed.TotalSeconds:F1} s");
        var rows = new List<LogDocument>(10_000);
        var random = new Random(7);
        for (int r = 0; r < logRows; r++)
        {
            int token = 1 + random.Next(keys);
            rows.Add(new LogDocument
            {
                AtMs = now - (60L * 86_400_000 * (logRows - r) / logRows),
                Kind = r % 500 == 0 ? LogKind.ThresholdReached : LogKind.Consume,
                TokenId = token,
                UserId = 1 + (token % users),
                AmountUnits = 1000,
                ThresholdPercent = 80,
            });
            if (rows.Count == rows.Capacity || r == logRows - 1)
            {
                persistent.Store.AppendLogs(rows);
                rows.Clear();
            }
        }

        output.WriteLine($"{logRows} log rows: {started.Elapsed.TotalSeconds:F1} s");
        await persistent.AcknowledgeAsync();
    }

    /// <summary>The id of what <paramref name="create"/> made; a full delta log is waited out (the writer drains it).</summary>
    private static int Created(Func<SaveOutcome> create)
    {
        while (true)
        {
            SaveOutcome outcome = create();
            if (outcome.IsOk)
            {
                return outcome.Id;
            }

            if (outcome.Error != SpecError.LogFull)
            {
                throw new InvalidOperationException("seeding failed: " + outcome.Error);
            }

            Thread.Sleep(1);
        }
    }
}
