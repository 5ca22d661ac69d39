global using Xunit;

// One host at a time: each host's metrics meter is named "Quota.Host", and OpenTelemetry listens by meter name
// across the process, so hosts running side by side would see each other's instruments (one host per process in
// production).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
