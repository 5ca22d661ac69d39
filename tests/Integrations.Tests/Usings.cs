global using Xunit;

// One host at a time: the relay tests start the host, whose meter is named process-wide (see tests/Host.Tests/Usings.cs).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
