global using Xunit;

// One host at a time (its metrics meter is matched by name process-wide, see the host tests), and one browser.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
