// The minimal YARP forwarder bench/http.sh measures the relay against: every request forwarded as is to one upstream.
//   dotnet bench/YarpPeer/bin/Release/net10.0/YarpPeer.dll --urls http://127.0.0.1:9102 --Upstream=http://127.0.0.1:9100
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
string upstream = builder.Configuration["Upstream"] ?? "http://127.0.0.1:9100";
builder.Services.AddHttpForwarder();
WebApplication app = builder.Build();
app.MapForwarder("/{**catch-all}", upstream);
app.Run();
