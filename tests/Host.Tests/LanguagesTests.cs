using Quota.Host.Runtime;

namespace Quota.Host.Tests;

/// <summary>How a reader's Accept-Language picks one of the host's languages (src/Host/Runtime/Languages.cs).</summary>
public sealed class LanguagesTests
{
    [Theory]
    [InlineData("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr")]
    [InlineData("fr-CA", "fr")]
    [InlineData("ja", "ja")]
    [InlineData("ja-JP,ja;q=0.9", "ja")]
    [InlineData("ru-RU,ru;q=0.9,en;q=0.5", "ru")]
    [InlineData("vi-VN,vi;q=0.9", "vi")]
    [InlineData("VI", "vi")]
    [InlineData("en-GB", "en")]
    [InlineData("zh-CN,zh;q=0.9", "zh-CN")]
    [InlineData("zh", "zh-CN")]
    [InlineData("zh-SG", "zh-CN")]
    [InlineData("zh-Hans-HK", "zh-CN")]
    [InlineData("zh-TW", "zh-TW")]
    [InlineData("zh-HK", "zh-TW")]
    [InlineData("zh-Hant", "zh-TW")]
    [InlineData("zh-MO", "zh-TW")]
    public void ATag_PicksItsLanguage(string header, string expected) => Assert.Equal(expected, Languages.FromAcceptLanguage(header));

    [Theory]
    [InlineData("de-DE,de;q=0.9,ru;q=0.5", "ru")] // the first language the host speaks, not the first tag
    [InlineData("en;q=0.1,ja;q=0.9", "ja")]       // quality, not order
    [InlineData("fr;q=0.5,vi;q=0.5", "fr")]       // a tie keeps header order
    [InlineData("ru;q=0,fr", "fr")]               // q=0 means "not this one"
    public void TheHighestQualityLanguageTheHostSpeaks_Wins(string header, string expected) => Assert.Equal(expected, Languages.FromAcceptLanguage(header));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("*")]
    [InlineData("de-DE,es;q=0.8")]
    [InlineData("ru;q=0")]
    [InlineData(";;;,,,q=")]
    [InlineData("x-klingon")]
    public void AHeaderThatNamesNoLanguageOfTheHost_IsEnglish(string? header)
    {
        Assert.Equal("en", Languages.FromAcceptLanguage(header));
        Assert.Null(Languages.Match(header));
    }

    [Fact]
    public void EveryLanguage_HasItsOwnNameInItself()
    {
        string[] names = Languages.Names.Select(Languages.NativeName).ToArray();

        Assert.Equal(["English", "简体中文", "繁體中文", "Français", "日本語", "Русский", "Tiếng Việt"], names);
        Assert.All(Languages.Names, name => Assert.Equal(name, Languages.FromAcceptLanguage(name)));
    }
}
