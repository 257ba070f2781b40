using SegCam.Common.Errors;
using SegCam.Common.Tensors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.Npy;

/// <summary>
/// NumPy .npy as an image: the array only, C order, shape (K, J, I) — i fastest — or (J, I) for one slice; leading
/// axes of length 1 are dropped. There is no geometry in the file, so reading gives unit spacing at the origin and
/// writing drops the geometry (use NIfTI/NRRD/MetaImage to keep it).
/// </summary>
public sealed class NpyVolumeFormat : IVolumeFormat
{
    /// <inheritdoc />
    public string Name => "NumPy";

    /// <inheritdoc />
    public IReadOnlyList<string> Extensions { get; } = [".npy"];

    /// <inheritdoc />
    public Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var array = NpyFile.Read(path, limits.MaxBytes);
        var shape = array.Shape.SkipWhile(d => d == 1).ToArray();
        if (shape.Length == 0)
        {
            shape = [1];
        }

        if (shape.Length > 3)
        {
            throw new VolumeFormatException($"'{path}': array shape ({string.Join(", ", array.Shape)}) has more than three axes longer than 1; an image is (K, J, I) or (J, I)");
        }

        var padded = Enumerable.Repeat(1, 3 - shape.Length).Concat(shape).ToArray();
        var size = new GridSize(padded[2], padded[1], padded[0]);
        var type = array.DType switch
        {
            NpyDType.Bool or NpyDType.UInt8 => VoxelType.UInt8,
            NpyDType.Int8 => VoxelType.Int8,
            NpyDType.Int16 => VoxelType.Int16,
            NpyDType.UInt16 => VoxelType.UInt16,
            NpyDType.Int32 => VoxelType.Int32,
            NpyDType.UInt32 => VoxelType.UInt32,
            NpyDType.Float32 => VoxelType.Float32,
            NpyDType.Float64 => VoxelType.Float64,
            _ => throw new VolumeFormatException($"'{path}': dtype {array.DType.NumPyName()} is not an image type; allowed: bool, uint8, int8, int16, uint16, int32, uint32, float32, float64"),
        };
        var volume = new Volume(VolumeGeometry.Identity(size), type, limits);
        var bytes = array.Bytes;
        var sliceBytes = volume.SliceBytes;
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bytes.Slice(k * sliceBytes, sliceBytes).CopyTo(volume.SliceData(k));
        }

        return volume;
    }

    /// <inheritdoc />
    public void Write(Volume volume, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(volume);
        var size = volume.Geometry.Size;
        var data = new byte[checked(volume.SliceBytes * (long)size.K)];
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            volume.SliceData(k).CopyTo(data.AsSpan(k * volume.SliceBytes));
        }

        var dtype = volume.Type switch
        {
            VoxelType.UInt8 => NpyDType.UInt8,
            VoxelType.Int8 => NpyDType.Int8,
            VoxelType.UInt16 => NpyDType.UInt16,
            VoxelType.Int16 => NpyDType.Int16,
            VoxelType.UInt32 => NpyDType.UInt32,
            VoxelType.Int32 => NpyDType.Int32,
            VoxelType.Float32 => NpyDType.Float32,
            _ => NpyDType.Float64,
        };
        var array = new NdArray(dtype, [size.K, size.J, size.I], data);
        VoxelStreams.WriteAtomically(path, stream => NpyFile.Write(stream, array));
    }
}
