using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Quota.Ctl.Cli;

/// <summary>
/// Where a command writes: tables and messages to stdout (through Spectre.Console), problems and progress to
/// stderr, and with <c>--json</c> only the API's JSON on stdout, so a script can pipe it into a JSON parser.
/// </summary>
internal sealed class Terminal
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public Terminal(TextWriter stdout, TextWriter stderr, bool json)
    {
        Stdout = stdout;
        Stderr = stderr;
        Json = json;
        Out = CreateConsole(stdout);
        Err = CreateConsole(stderr);
    }

    public TextWriter Stdout { get; }
    public TextWriter Stderr { get; }

    /// <summary>Print the API's JSON instead of tables.</summary>
    public bool Json { get; }

    /// <summary>Tables and messages.</summary>
    public IAnsiConsole Out { get; }

    /// <summary>Progress bars (they never mix with stdout, which may be a JSON document).</summary>
    public IAnsiConsole Err { get; }

    public void WriteJson(JsonElement element) => Stdout.WriteLine(JsonSerializer.Serialize(element, Indented));

    /// <summary>One JSON value per line (log rows in follow mode).</summary>
    public void WriteJsonLine(JsonElement element) => Stdout.WriteLine(JsonSerializer.Serialize(element));

    public void Line(string text) => Out.Write(new Text(text + Environment.NewLine));

    public void Write(IRenderable renderable) => Out.Write(renderable);

    public void Problem(string text) => Stderr.WriteLine(text);

    /// <summary>
    /// Colours and cursor movement only on a real terminal; a redirected stream (a pipe, a test's writer) gets plain
    /// text, wide enough that tables do not wrap.
    /// </summary>
    private static IAnsiConsole CreateConsole(TextWriter writer)
    {
        bool terminal = (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected)
            || (ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected);
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = 200;
        }

        return console;
    }
}
