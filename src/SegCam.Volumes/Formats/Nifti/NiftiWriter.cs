using System.IO.Compression;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats.Nifti;

/// <summary>
/// Writes little-endian single-file NIfTI-1 (.nii, or gzip-compressed when the name ends in .gz) with both qform and
/// sform (code 1) describing the geometry in RAS millimetres, no scaling, and voxel data at byte 352. The file
/// appears under its name only once complete.
/// </summary>
internal static class NiftiWriter
{
    /// <summary>Writes <paramref name="volume"/> to <paramref name="path"/>.</summary>
    public static void Write(Volume volume, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(path);
        cancellationToken.ThrowIfCancellationRequested();
        var size = volume.Geometry.Size;
        for (var a = 0; a < 3; a++)
        {
            if (size[a] > short.MaxValue)
            {
                throw new VolumeFormatException($"'{path}': NIfTI-1 stores at most {short.MaxValue} voxels per axis; axis {a} of the {size} image has {size[a]}");
            }
        }

        var header = NiftiGeometry.Encode(
            new NiftiHeader
            {
                Dim = [3, size.I, size.J, size.K, 1, 1, 1, 1],
                DataType = NiftiDataTypes.CodeOf(volume.Type),
                BitPix = NiftiDataTypes.BitPixOf(volume.Type),
                VoxOffset = NiftiHeader.Nifti1DataOffset,
                SclSlope = 1,
                SclInter = 0,
                Description = "SegCamPlugin",
            },
            volume.Geometry);
        var bytes = header.EncodeNifti1();
        var compress = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        VoxelStreams.WriteAtomically(path, file =>
        {
            if (compress)
            {
                using var gzip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
                WriteContent(gzip, bytes, volume, cancellationToken);
            }
            else
            {
                WriteContent(file, bytes, volume, cancellationToken);
            }
        });
    }

    private static void WriteContent(Stream stream, byte[] header, Volume volume, CancellationToken cancellationToken)
    {
        stream.Write(header);
        for (var k = 0; k < volume.Geometry.Size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stream.Write(volume.SliceData(k));
        }
    }
}
