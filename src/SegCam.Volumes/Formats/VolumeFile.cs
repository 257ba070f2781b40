using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats;

/// <summary>Reads and writes images by file name, picking the format from the name's ending.</summary>
public static class VolumeFile
{
    // Built-in formats; add-ons (DICOM through GDCM, in its own assembly) are added with Register.
    private static readonly List<IVolumeFormat> Formats = [new Nifti.NiftiFormat(), new Nrrd.NrrdFormat(), new MetaImage.MetaImageFormat(), new Npy.NpyVolumeFormat()];

    /// <summary>Every registered format.</summary>
    public static IReadOnlyList<IVolumeFormat> All => Formats;

    /// <summary>Adds a format once (at start-up); a later registration of the same extension wins.</summary>
    public static void Register(IVolumeFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        lock (Formats)
        {
            if (!Formats.Any(f => f.GetType() == format.GetType()))
            {
                Formats.Insert(0, format);
            }
        }
    }

    /// <summary>The format owning <paramref name="path"/>'s file name ending.</summary>
    public static IVolumeFormat FormatOf(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var name = Path.GetFileName(path).ToLowerInvariant();
        lock (Formats)
        {
            return Formats.Where(f => f.Extensions.Any(name.EndsWith)).OrderByDescending(f => f.Extensions.Where(name.EndsWith).Max(e => e.Length)).FirstOrDefault()
                   ?? throw new VolumeFormatException($"'{path}': unknown image format; allowed endings: {string.Join(", ", Formats.SelectMany(f => f.Extensions).Distinct())}");
        }
    }

    /// <summary>Reads an image file, or a folder (a DICOM series, when a folder format is registered).</summary>
    public static Volume Read(string path, VolumeLimits? limits = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        IVolumeFormat format;
        if (Directory.Exists(path))
        {
            lock (Formats)
            {
                format = Formats.OfType<IFolderVolumeFormat>().FirstOrDefault()
                         ?? throw new VolumeFormatException($"'{path}' is a folder; folders are read as DICOM series, which this program was built without");
            }
        }
        else
        {
            format = FormatOf(path);
            if (!File.Exists(path))
            {
                throw new InputFileNotFoundException($"image '{path}' does not exist");
            }
        }

        return format.Read(path, limits ?? VolumeLimits.Default, cancellationToken);
    }

    /// <summary>Writes an image in the format its file name names.</summary>
    public static void Write(Volume volume, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(volume);
        FormatOf(path).Write(volume, path, cancellationToken);
    }
}
