global using Xunit;

// One host at a time: the host's metrics meter is named per process (see tests/Host.Tests/Usings.cs).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
