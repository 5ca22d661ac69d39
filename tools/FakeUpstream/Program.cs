// A standalone OpenAI-compatible fake upstream for tests and benchmarks: deterministic completions with usage, SSE
// streaming, configurable latency and error injection. Loopback only by default.
//   dotnet run --project tools/FakeUpstream -c Release -- --urls http://127.0.0.1:9000 [--Fake:LatencyMs=20] [--Fake:FailEvery=10 [--Fake:FailStatus=429] [--Fake:FailRetryAfter=5]] [--Fake:OmitStreamUsage=true]
using Quota.FakeUpstream;

FakeUpstreamApp.Build(args).Run();
