global using Xunit;

// One host at a time: each host's metrics meter is named "Quota.Host", and OpenTelemetry listens by meter name
// across the process (see tests/Host.Tests/Usings.cs).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
