using System.Globalization;
using System.Text.Json.Nodes;
using Quota.Ctl.Cli;

namespace Quota.Ctl.Import;

/// <summary>A row's problem: the file line, the CSV column (or null for the row as a whole) and what is wrong.</summary>
internal sealed record RowError(int Line, string? Field, string Message);

/// <summary>
/// One key to create: the body of <c>POST /api/tokens</c> built from its row and the continuation rows below it
/// (one per further policy), and the line of each policy so a host error on <c>quota_policies[i].x</c> names the
/// right line and column. A key whose rows do not parse carries the error instead of a body.
/// </summary>
internal sealed class ImportedKey
{
    public required int Line { get; init; }
    public string Name { get; init; } = "";
    public JsonObject? Body { get; set; }
    public List<int> PolicyLines { get; } = [];
    public RowError? Error { get; set; }

    /// <summary>Maps a field the host named (<c>quota_policies[1].quota</c>, <c>remain_quota</c>) to a line and column.</summary>
    public RowError ErrorAt(string? apiField, string message)
    {
        if (apiField is not null && apiField.StartsWith("quota_policies[", StringComparison.Ordinal)
            && apiField.IndexOf(']', StringComparison.Ordinal) is var close and > 0
            && int.TryParse(apiField.AsSpan(15, close - 15), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && index < PolicyLines.Count)
        {
            string rest = apiField[(close + 1)..].TrimStart('.');
            return new RowError(PolicyLines[index], rest.Length > 0 ? rest : "period_mode", message);
        }

        return new RowError(Line, apiField is "body" ? null : apiField, message);
    }
}

/// <summary>
/// The import CSV (documented in tools/quotactl/README.md): a header row, then one row per key; a row with an
/// empty <c>user_id</c> adds one more policy to the key above it. Values are checked for their type here; their
/// ranges are checked by the host, which names the field.
/// </summary>
internal static class ImportFile
{
    public static readonly string[] KeyColumns = ["user_id", "name", "remain_quota", "unlimited_quota", "expired_time", "status"];

    public static readonly string[] PolicyColumns =
        ["period_mode", "quota", "custom_minutes", "time_zone", "exhausted_action", "boundary_mode", "auto_resume", "anchor_time"];

    private const int PoliciesMax = 4;

    /// <exception cref="UsageException">The file cannot be read, or its header is wrong: nothing is imported.</exception>
    public static List<ImportedKey> Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"csv: cannot read {path} ({e.Message})");
        }

        List<CsvRecord> records;
        try
        {
            records = CsvReader.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UsageException($"csv: {e.Message}");
        }

        if (records.Count == 0)
        {
            throw new UsageException("csv: the file is empty (it needs a header row: user_id,name,…)");
        }

        string[] header = [.. records[0].Fields.Select(h => h.Trim().ToLowerInvariant())];
        string[] unknown = [.. header.Where(h => !KeyColumns.Contains(h) && !PolicyColumns.Contains(h))];
        if (unknown.Length > 0 || !header.Contains("user_id") || header.Distinct().Count() != header.Length)
        {
            throw new UsageException($"csv: line 1: the header must name user_id and only known columns, each once "
                + $"({string.Join(",", KeyColumns.Concat(PolicyColumns))}){(unknown.Length > 0 ? $"; unknown: {string.Join(",", unknown)}" : "")}");
        }

        var keys = new List<ImportedKey>();
        foreach (CsvRecord record in records.Skip(1))
        {
            var row = new Row(header, record);
            if (row["user_id"].Length == 0)
            {
                AddPolicyRow(keys, row);
            }
            else
            {
                keys.Add(KeyRow(row));
            }
        }

        return keys;
    }

    private static ImportedKey KeyRow(Row row)
    {
        var key = new ImportedKey { Line = row.Line, Name = row["name"] };
        try
        {
            row.CheckWidth();
            var body = new JsonObject { ["user_id"] = row.Int("user_id"), ["name"] = row["name"], ["quota_policies"] = new JsonArray() };
            row.Long("remain_quota", body);
            row.Bool("unlimited_quota", body);
            row.Long("expired_time", body);
            if (row["status"] is { Length: > 0 } status)
            {
                body["status"] = status.ToLowerInvariant() switch
                {
                    "enabled" or "1" => 1,
                    "disabled" or "2" => 2,
                    _ => throw new RowException("status", "must be enabled or disabled"),
                };
            }

            key.Body = body;
            if (row.HasPolicy)
            {
                AddPolicy(key, row);
            }
        }
        catch (RowException e)
        {
            key.Error = new RowError(row.Line, e.Field, e.Message);
        }

        return key;
    }

    private static void AddPolicyRow(List<ImportedKey> keys, Row row)
    {
        if (keys.Count == 0)
        {
            keys.Add(new ImportedKey { Line = row.Line, Error = new RowError(row.Line, "user_id", "is required (a row without it adds a policy to the key above, and there is none)") });
            return;
        }

        ImportedKey key = keys[^1];
        if (key.Error is not null)
        {
            return; // the key already failed; its report names the first problem
        }

        try
        {
            row.CheckWidth();
            foreach (string column in KeyColumns)
            {
                if (row[column].Length > 0)
                {
                    throw new RowException(column, "must be empty on a row that adds a policy to the key above (it has no user_id)");
                }
            }

            if (!row.HasPolicy)
            {
                throw new RowException("period_mode", "is required on a row that adds a policy to the key above");
            }

            AddPolicy(key, row);
        }
        catch (RowException e)
        {
            key.Error = new RowError(row.Line, e.Field, e.Message);
            key.Body = null;
        }
    }

    private static void AddPolicy(ImportedKey key, Row row)
    {
        var policies = (JsonArray)key.Body!["quota_policies"]!;
        if (policies.Count == PoliciesMax)
        {
            throw new RowException("period_mode", $"a key has at most {PoliciesMax} policies");
        }

        var policy = new JsonObject { ["period_mode"] = row["period_mode"] };
        row.Long("quota", policy);
        row.Long("custom_minutes", policy);
        row.Text("time_zone", policy);
        row.Text("exhausted_action", policy);
        row.Text("boundary_mode", policy);
        row.Bool("auto_resume", policy);
        row.Long("anchor_time", policy);
        policies.Add(policy);
        key.PolicyLines.Add(row.Line);
    }

    private sealed class RowException(string? field, string message) : Exception(message)
    {
        public string? Field { get; } = field;
    }

    /// <summary>A record read through the header; typed readers that throw a <see cref="RowException"/> naming the column.</summary>
    private sealed class Row(string[] header, CsvRecord record)
    {
        public int Line => record.Line;

        public string this[string column] =>
            Array.IndexOf(header, column) is var i and >= 0 && i < record.Fields.Length ? record.Fields[i].Trim() : "";

        public bool HasPolicy => PolicyColumns.Any(c => this[c].Length > 0);

        public void CheckWidth()
        {
            if (record.Fields.Length > header.Length)
            {
                throw new RowException(null, $"has {record.Fields.Length} fields, the header {header.Length}");
            }
        }

        public int Int(string column) =>
            int.TryParse(this[column], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value)
                ? value : throw new RowException(column, $"'{this[column]}' is not a whole number");

        public void Long(string column, JsonObject target)
        {
            if (this[column] is { Length: > 0 } text)
            {
                target[column] = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
                    ? value : throw new RowException(column, $"'{text}' is not a whole number");
            }
        }

        public void Bool(string column, JsonObject target)
        {
            if (this[column] is { Length: > 0 } text)
            {
                target[column] = text.ToLowerInvariant() switch
                {
                    "true" or "yes" or "1" => true,
                    "false" or "no" or "0" => false,
                    _ => throw new RowException(column, $"'{text}' is not true or false"),
                };
            }
        }

        public void Text(string column, JsonObject target)
        {
            if (this[column] is { Length: > 0 } text)
            {
                target[column] = text;
            }
        }
    }
}
