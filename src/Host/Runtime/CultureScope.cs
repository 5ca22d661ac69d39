using System.Globalization;

namespace Quota.Host.Runtime;

/// <summary>
/// Sets the thread's culture and UI culture for a synchronous piece of rendering (an API endpoint that renders in the
/// reader's language outside the console's localization middleware), and puts the previous ones back on dispose.
/// </summary>
internal readonly struct CultureScope : IDisposable
{
    private readonly CultureInfo culture;
    private readonly CultureInfo uiCulture;

    private CultureScope(CultureInfo culture, CultureInfo uiCulture)
    {
        this.culture = culture;
        this.uiCulture = uiCulture;
    }

    public static CultureScope Use(string name)
    {
        var scope = new CultureScope(CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture);
        CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(name);
        return scope;
    }

    public void Dispose()
    {
        CultureInfo.CurrentCulture = culture;
        CultureInfo.CurrentUICulture = uiCulture;
    }
}
