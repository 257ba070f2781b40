using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// Loads GDCM's C# binding once, on first use. gdcm-sharp.dll P/Invokes a native glue library ("gdcmsharpglue",
/// libgdcmsharpglue.so) that .NET only finds in the application folder, so a DllImport resolver registered for
/// gdcm's assembly also looks beside gdcm-sharp.dll, in the application folder and in Debian's
/// /usr/lib/cli/gdcm-sharp-3.0; an assembly resolver finds gdcm-sharp.dll itself in that folder when a host
/// (a test runner, the CLI) did not copy it. GDCM's own warnings to stderr are switched off: the reader reports
/// every problem it cares about as an exception.
/// </summary>
internal static class GdcmRuntime
{
    /// <summary>What a user is told when the binding is missing.</summary>
    internal const string MissingMessage = "reading DICOM needs GDCM's C# binding: apt-get install libgdcm-cil";

    /// <summary>Where Debian's libgdcm-cil installs the binding and its glue.</summary>
    internal const string DebianFolder = "/usr/lib/cli/gdcm-sharp-3.0";

    private const string GlueName = "gdcmsharpglue";
    private const string GlueFile = "libgdcmsharpglue.so";
    private const string AssemblyName = "gdcm-sharp";

    // null when GDCM loaded; otherwise why not ("" when this build has no GDCM at all).
    private static readonly Lazy<string?> LoadError = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>True when this build references GDCM and its managed and native parts load.</summary>
    public static bool IsAvailable => LoadError.Value is null;

    /// <summary>Throws <see cref="VolumeFormatException"/> with the install instruction when GDCM cannot be used.</summary>
    public static void EnsureAvailable()
    {
        if (LoadError.Value is { } error)
        {
            throw new VolumeFormatException(error.Length == 0 ? MissingMessage : $"{MissingMessage} ({error})");
        }
    }

    private static string? Load()
    {
#if SEGCAM_GDCM
        AssemblyLoadContext.Default.Resolving += ResolveManaged;
        try
        {
            RegisterNativeResolver();
            SilenceTrace();
            return null;
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException
                                      or DllNotFoundException or EntryPointNotFoundException or TypeInitializationException)
        {
            return Describe(e);
        }
#else
        return string.Empty;
#endif
    }

#if SEGCAM_GDCM
    private static string Describe(Exception e)
    {
        while (e is TypeInitializationException { InnerException: { } inner })
        {
            e = inner;
        }

        var what = e is DllNotFoundException or EntryPointNotFoundException ? $"{GlueFile} did not load" : $"{AssemblyName}.dll did not load";
        var first = e.Message.Split('\n', 2)[0].Trim();
        return $"{what}: {(first.Length > 300 ? first[..300] + "…" : first)}";
    }

    // Kept out of Load so that Load itself never needs gdcm-sharp.dll to be JIT-compiled.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RegisterNativeResolver()
    {
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(gdcm.Tag).Assembly, ResolveNative);
        }
        catch (InvalidOperationException)
        {
            // The host registered its own resolver for gdcm-sharp; .NET allows one per assembly.
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SilenceTrace()
    {
        // The first call into gdcm-sharp loads the glue: a missing glue surfaces here, not in the middle of a read.
        gdcm.Trace.WarningOff();
        gdcm.Trace.ErrorOff();
        gdcm.Trace.DebugOff();
    }

    private static Assembly? ResolveManaged(AssemblyLoadContext context, AssemblyName name)
    {
        if (!string.Equals(name.Name, AssemblyName, StringComparison.Ordinal))
        {
            return null;
        }

        var path = Path.Combine(DebianFolder, AssemblyName + ".dll");
        return File.Exists(path) ? context.LoadFromAssemblyPath(path) : null;
    }

    private static IntPtr ResolveNative(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!string.Equals(libraryName, GlueName, StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }

        string?[] folders = [Path.GetDirectoryName(assembly.Location), AppContext.BaseDirectory, DebianFolder];
        foreach (var folder in folders)
        {
            if (string.IsNullOrEmpty(folder))
            {
                continue;
            }

            var candidate = Path.Combine(folder, GlueFile);
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero; // .NET's default probing, then DllNotFoundException
    }
#endif
}
