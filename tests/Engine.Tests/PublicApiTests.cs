using System.Reflection;

namespace Quota.Engine.Tests;

/// <summary>
/// The package's public surface, beyond what the public API analyzer records (src/Engine/PublicAPI.*.txt lists every
/// symbol; these tests say which kinds of symbol must never be on it).
/// </summary>
public sealed class PublicApiTests
{
    private static readonly Assembly Engine = typeof(QuotaEngine).Assembly;

    /// <summary>
    /// The storage libraries stay inside their adapters: an embedder's code never names a FASTER, LiteDB or NodaTime
    /// type, so the engine can change or drop them without breaking its callers.
    /// </summary>
    [Fact]
    public void PublicApi_NamesNoTypeOfFasterLiteDbOrNodaTime()
    {
        string[] adapters = ["FASTER.core", "LiteDB", "NodaTime"];
        var leaks = new List<string>();
        foreach (Type type in Engine.GetExportedTypes())
        {
            foreach ((string where, Type used) in Signature(type))
            {
                foreach (Type part in Parts(used))
                {
                    if (Array.IndexOf(adapters, part.Assembly.GetName().Name) >= 0)
                    {
                        leaks.Add($"{type.FullName}.{where}: {part.FullName}");
                    }
                }
            }
        }

        Assert.Empty(leaks);
    }

    /// <summary>What the host and tools reach through InternalsVisibleTo is not the embedder's API (README "Embedding the engine").</summary>
    [Fact]
    public void PublicApi_KeepsTheHostStoreTheLogCodecAndWindowMathInternal()
    {
        string[] internalNames =
        [
            "LiteConfigStore", "SystemLogWriter", "LogDocument", "TokenDocument", "UserDocument", "SnapshotDocument", "LogQuery",
            "DeltaLogWriter", "DeltaRecordCodec", "FasterDeltaLog", "WindowRule", "WindowMath", "ConservationAudit",
        ];
        string[] exported = [.. Engine.GetExportedTypes().Select(t => t.Name)];

        Assert.Empty(internalNames.Intersect(exported));
        Assert.Contains(nameof(QuotaEngine), exported); // the check reads the real surface, not an empty one
    }

    /// <summary>Every type a public member of <paramref name="type"/> declares: base types, fields, properties, events, parameters, returns.</summary>
    private static IEnumerable<(string Where, Type Used)> Signature(Type type)
    {
        if (type.BaseType is { } baseType)
        {
            yield return ("base", baseType);
        }

        foreach (Type contract in type.GetInterfaces())
        {
            yield return ("interface", contract);
        }

        const BindingFlags visible = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (MemberInfo member in type.GetMembers(visible))
        {
            switch (member)
            {
                case FieldInfo field when field.IsPublic || field.IsFamily || field.IsFamilyOrAssembly:
                    yield return (field.Name, field.FieldType);
                    break;
                case PropertyInfo property when property.GetMethod is { } getter && IsVisible(getter):
                    yield return (property.Name, property.PropertyType);
                    break;
                case EventInfo e when e.AddMethod is { } add && IsVisible(add):
                    yield return (e.Name, e.EventHandlerType!);
                    break;
                case MethodBase method when IsVisible(method):
                    foreach (ParameterInfo parameter in method.GetParameters())
                    {
                        yield return ($"{method.Name}({parameter.Name})", parameter.ParameterType);
                    }

                    if (method is MethodInfo { ReturnType: var returns })
                    {
                        yield return ($"{method.Name}()", returns);
                    }

                    break;
            }
        }
    }

    private static bool IsVisible(MethodBase method) => method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly;

    /// <summary>A type and everything it is built from: element types (arrays, by-ref, pointers) and generic arguments.</summary>
    private static IEnumerable<Type> Parts(Type type)
    {
        yield return type;
        if (type.HasElementType)
        {
            foreach (Type part in Parts(type.GetElementType()!))
            {
                yield return part;
            }
        }

        if (type.IsGenericType)
        {
            foreach (Type argument in type.GetGenericArguments())
            {
                foreach (Type part in Parts(argument))
                {
                    yield return part;
                }
            }
        }
    }
}
