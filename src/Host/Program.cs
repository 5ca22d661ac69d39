// Quota Engine host: the admin API, the quota API and an OpenAI-compatible relay in front of the engine
// (docs/api.md; configuration: docs/operations.md "Configuration"). Configuration: appsettings.json, Section__Key environment variables, --Section:Key=value arguments.
using Quota.Host;

WebApplication app = HostApp.Build(args);
app.Run();

public partial class Program;
