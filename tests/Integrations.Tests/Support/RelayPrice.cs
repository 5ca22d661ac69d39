namespace Quota.Integrations.Tests.Support;

/// <summary>The relay's price of a gpt-4o-mini call at the host's default prices (tests/Clients.Tests' RelayUnderTest.Gpt4oMiniPrice).</summary>
internal static class RelayPrice
{
    public static long Gpt4oMini(long promptTokens, long completionTokens) => Quota.Clients.Tests.Support.RelayUnderTest.Gpt4oMiniPrice(promptTokens, completionTokens);
}
