using System.Text;

namespace Quota.Ctl.Import;

/// <summary>One CSV record and the file line it starts on (a quoted field may span lines).</summary>
internal readonly record struct CsvRecord(int Line, string[] Fields);

/// <summary>
/// RFC 4180 CSV: comma-separated, fields optionally in double quotes (<c>""</c> is a quote inside one, a quoted
/// field may hold commas and line breaks), CRLF or LF line ends. Blank lines are skipped.
/// </summary>
internal static class CsvReader
{
    public static List<CsvRecord> Parse(string text)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1;
        bool quoted = false, fieldWasQuoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    line += c == '\n' ? 1 : 0;
                    field.Append(c);
                }

                continue;
            }

            switch (c)
            {
                case '"' when field.Length == 0 && !fieldWasQuoted:
                    quoted = fieldWasQuoted = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    fieldWasQuoted = false;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRecord(records, fields, field, recordLine);
                    fieldWasQuoted = false;
                    recordLine = ++line;
                    break;
                default:
                    field.Append(c);
                    break;
            }
        }

        if (quoted)
        {
            throw new FormatException($"line {recordLine}: a quoted field is not closed");
        }

        EndRecord(records, fields, field, recordLine);
        return records;
    }

    private static void EndRecord(List<CsvRecord> records, List<string> fields, StringBuilder field, int line)
    {
        fields.Add(field.ToString());
        field.Clear();
        if (fields.Count > 1 || fields[0].Trim().Length > 0)
        {
            records.Add(new CsvRecord(line, [.. fields]));
        }

        fields.Clear();
    }
}
