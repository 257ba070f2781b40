using System.Numerics;
using System.Runtime.InteropServices;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.Nifti;

/// <summary>
/// Reads single-file NIfTI-1 and NIfTI-2 images (.nii, gzip-compressed or not, in either byte order). Every header
/// value is checked, and the size against <see cref="VolumeLimits"/>, before anything is allocated; exactly the
/// number of voxel bytes the header promises is read, so a gzip bomb costs no more than an honest file.
/// </summary>
internal static class NiftiReader
{
    /// <summary>Most bytes of header extensions (between the header and vox_offset) that are skipped.</summary>
    public const long MaxExtensionBytes = 256L << 20;

    /// <summary>Reads the image at <paramref name="path"/>.</summary>
    public static Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(path))
        {
            throw new InputFileNotFoundException($"image '{path}' does not exist");
        }

        var fileLength = new FileInfo(path).Length;
        if (fileLength == 0)
        {
            throw new VolumeFormatException($"'{path}' is empty; a NIfTI file starts with a {NiftiHeader.Nifti1Size}-byte (NIfTI-1) or {NiftiHeader.Nifti2Size}-byte (NIfTI-2) header");
        }

        var compressed = VoxelStreams.IsGzip(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var stream = compressed ? VoxelStreams.Gunzip(file) : file;
        var header = NiftiHeader.Read(stream, path);
        var size = Size(header, path, limits);
        var stored = NiftiDataTypes.TypeOf(header.DataType, header.BitPix, path);
        var (scaled, slope, intercept) = Scaling(header);
        var type = scaled ? VoxelType.Float32 : stored;
        limits.Check(size, stored, $"'{path}'");
        limits.Check(size, type, $"'{path}'");
        if (size.SliceVoxels * Math.Max(stored.Size(), type.Size()) > Array.MaxLength)
        {
            throw new ResourceLimitException($"'{path}': one {size.I}×{size.J} slice of {stored} voxels exceeds the largest array .NET can allocate");
        }

        var offset = DataOffset(header, path);
        var dataBytes = size.Voxels * stored.Size();
        if (!compressed && fileLength - offset < dataBytes)
        {
            throw new VolumeFormatException(
                $"'{path}' is truncated: the header promises {dataBytes:N0} bytes of voxel data at offset {offset:N0}, but the file has only {Math.Max(0, fileLength - offset):N0} bytes there");
        }

        var geometry = NiftiGeometry.Decode(header, size, path);
        if (stream.CanSeek)
        {
            stream.Seek(offset, SeekOrigin.Begin);
        }
        else
        {
            VoxelStreams.Skip(stream, offset - header.HeaderSize, path, "header extensions");
        }

        var volume = new Volume(geometry, type, limits);
        var raw = scaled ? new byte[checked((int)(size.SliceVoxels * stored.Size()))] : null;
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var target = raw is null ? volume.SliceData(k) : raw.AsSpan();
            VoxelStreams.ReadExactly(stream, target, path, $"voxel data ({dataBytes:N0} bytes in all; slice {k} of {size.K})");
            if (header.BigEndian)
            {
                VoxelStreams.SwapBytes(target, stored.Size());
            }

            if (raw is not null)
            {
                Scale(stored, raw, volume.Slice<float>(k), slope, intercept);
            }
        }

        return volume;
    }

    private static GridSize Size(NiftiHeader h, string path, VolumeLimits limits)
    {
        var rank = h.Dim[0];
        if (rank is < 1 or > 7)
        {
            throw new VolumeFormatException($"'{path}': NIfTI dim[0] (the number of dimensions) is {rank}; it must be between 1 and 7");
        }

        for (var d = 1; d <= rank; d++)
        {
            if (h.Dim[d] < 1)
            {
                throw new VolumeFormatException($"'{path}': NIfTI dim[{d}] is {h.Dim[d]}; every dimension needs at least one voxel");
            }
        }

        for (var d = 4; d <= rank; d++)
        {
            if (h.Dim[d] != 1)
            {
                throw new VolumeFormatException(
                    $"'{path}' is a {rank}-D NIfTI image (dim[{d}] = {h.Dim[d]}); only 3-D images are supported, not 4-D time series or higher dimensions");
            }
        }

        var axes = new int[3];
        for (var a = 0; a < 3; a++)
        {
            var n = a + 1 <= rank ? h.Dim[a + 1] : 1;
            if (n > limits.MaxAxis)
            {
                throw new ResourceLimitException($"'{path}': axis {a} has {n} voxels; at most {limits.MaxAxis} are allowed");
            }

            axes[a] = (int)n;
        }

        return new GridSize(axes[0], axes[1], axes[2]);
    }

    private static long DataOffset(NiftiHeader h, string path)
    {
        var minimum = h.Version == 1 ? NiftiHeader.Nifti1DataOffset : NiftiHeader.Nifti2Size;
        var offset = h.VoxOffset;
        if (!double.IsFinite(offset) || offset != Math.Floor(offset))
        {
            throw new VolumeFormatException($"'{path}': NIfTI vox_offset {offset} is not a whole number of bytes");
        }

        if (offset < minimum)
        {
            throw new VolumeFormatException(
                $"'{path}': NIfTI vox_offset is {offset}, inside the {h.HeaderSize}-byte NIfTI-{h.Version} header; voxel data must start at byte {minimum} or later");
        }

        if (offset - h.HeaderSize > MaxExtensionBytes)
        {
            throw new ResourceLimitException(
                $"'{path}': NIfTI vox_offset {offset} leaves {offset - h.HeaderSize:N0} bytes of header extensions; at most {MaxExtensionBytes:N0} are skipped");
        }

        return (long)offset;
    }

    /// <summary>Whether scl_slope/scl_inter apply (slope finite and non-zero, and not the identity), as nibabel decides.</summary>
    private static (bool Scaled, double Slope, double Intercept) Scaling(NiftiHeader h)
    {
        var slope = h.SclSlope;
        var intercept = double.IsFinite(h.SclInter) ? h.SclInter : 0;
        var scaled = double.IsFinite(slope) && slope != 0 && !(slope == 1 && intercept == 0);
        return (scaled, slope, intercept);
    }

    private static void Scale(VoxelType stored, ReadOnlySpan<byte> raw, Span<float> target, double slope, double intercept)
    {
        switch (stored)
        {
            case VoxelType.UInt8: Scale<byte>(raw, target, slope, intercept); break;
            case VoxelType.Int8: Scale<sbyte>(raw, target, slope, intercept); break;
            case VoxelType.UInt16: Scale<ushort>(raw, target, slope, intercept); break;
            case VoxelType.Int16: Scale<short>(raw, target, slope, intercept); break;
            case VoxelType.UInt32: Scale<uint>(raw, target, slope, intercept); break;
            case VoxelType.Int32: Scale<int>(raw, target, slope, intercept); break;
            case VoxelType.Float32: Scale<float>(raw, target, slope, intercept); break;
            case VoxelType.Float64: Scale<double>(raw, target, slope, intercept); break;
            default: throw new ArgumentOutOfRangeException(nameof(stored), stored, null);
        }
    }

    private static void Scale<T>(ReadOnlySpan<byte> raw, Span<float> target, double slope, double intercept)
        where T : unmanaged, INumberBase<T>
    {
        var values = MemoryMarshal.Cast<byte, T>(raw);
        for (var v = 0; v < values.Length; v++)
        {
            target[v] = (float)((double.CreateTruncating(values[v]) * slope) + intercept);
        }
    }
}
