using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes;

/// <summary>
/// An image, label map or heatmap: an immutable geometry and the voxels it owns, stored one k-slice per array so
/// volumes over 2 GB work and slice-wise pipelines touch one slice at a time. Voxels are in native (little-endian)
/// byte order, i fastest, then j; slice k holds I·J voxels.
/// </summary>
public sealed class Volume
{
    private readonly byte[][] _slices;

    /// <summary>A zero-filled volume; checks <paramref name="limits"/> before allocating.</summary>
    public Volume(VolumeGeometry geometry, VoxelType type, VolumeLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        (limits ?? VolumeLimits.Default).Check(geometry.Size, type, "image");
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("voxel buffers assume a little-endian machine");
        }

        Geometry = geometry;
        Type = type;
        var sliceBytes = checked((int)(geometry.Size.SliceVoxels * type.Size()));
        _slices = new byte[geometry.Size.K][];
        for (var k = 0; k < _slices.Length; k++)
        {
            _slices[k] = new byte[sliceBytes];
        }
    }

    /// <summary>Where the voxels lie.</summary>
    public VolumeGeometry Geometry { get; }

    /// <summary>Element type.</summary>
    public VoxelType Type { get; }

    /// <summary>Bytes of one k-slice.</summary>
    public int SliceBytes => _slices[0].Length;

    /// <summary>The raw bytes of slice <paramref name="k"/>.</summary>
    public Span<byte> SliceData(int k) => _slices[CheckSlice(k)];

    /// <summary>
    /// Copies raw voxel bytes (native order, i fastest) into the volume from byte <paramref name="byteOffset"/> on,
    /// across k-slices — the voxel stream of a file or a network upload, chunk by chunk.
    /// </summary>
    public void WriteBytes(long byteOffset, ReadOnlySpan<byte> data)
    {
        var sliceBytes = SliceBytes;
        var total = (long)sliceBytes * _slices.Length;
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(data.Length, total - byteOffset, nameof(data));
        while (!data.IsEmpty)
        {
            var k = (int)(byteOffset / sliceBytes);
            var within = (int)(byteOffset % sliceBytes);
            var n = Math.Min(sliceBytes - within, data.Length);
            data[..n].CopyTo(_slices[k].AsSpan(within));
            data = data[n..];
            byteOffset += n;
        }
    }

    /// <summary>Slice <paramref name="k"/> as elements of <typeparamref name="T"/>, which must match <see cref="Type"/>.</summary>
    public Span<T> Slice<T>(int k)
        where T : unmanaged
    {
        if (VoxelTypes.Of<T>() != Type)
        {
            throw new InvalidOperationException($"the volume holds {Type} voxels, not {typeof(T).Name}");
        }

        return MemoryMarshal.Cast<byte, T>(_slices[CheckSlice(k)].AsSpan());
    }

    /// <summary>Voxel (i, j, k) as a double, whatever the type (convenient, not fast).</summary>
    public double this[int i, int j, int k]
    {
        get => Read(_slices[CheckSlice(k)], Offset(i, j));
        set => Write(_slices[CheckSlice(k)], Offset(i, j), value);
    }

    /// <summary>Slice <paramref name="k"/> converted to doubles.</summary>
    public void CopySlice(int k, Span<double> destination)
    {
        var data = _slices[CheckSlice(k)];
        var count = (int)Geometry.Size.SliceVoxels;
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, count);
        for (var v = 0; v < count; v++)
        {
            destination[v] = Read(data, v);
        }
    }

    /// <summary>A copy of this volume with another voxel type (values converted with rounding and saturation for integers).</summary>
    public Volume ConvertTo(VoxelType type)
    {
        var result = new Volume(Geometry, type);
        var count = (int)Geometry.Size.SliceVoxels;
        for (var k = 0; k < Geometry.Size.K; k++)
        {
            var source = _slices[k];
            var target = result._slices[k];
            for (var v = 0; v < count; v++)
            {
                result.Write(target, v, Read(source, v));
            }
        }

        return result;
    }

    /// <summary>True when both have the same geometry, type and voxels.</summary>
    public bool ContentEquals(Volume other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return other.Type == Type && other.Geometry == Geometry && _slices.Zip(other._slices).All(p => p.First.AsSpan().SequenceEqual(p.Second));
    }

    private int CheckSlice(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(k, Geometry.Size.K);
        return k;
    }

    private int Offset(int i, int j)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(i);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(i, Geometry.Size.I);
        ArgumentOutOfRangeException.ThrowIfNegative(j);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(j, Geometry.Size.J);
        return i + (j * Geometry.Size.I);
    }

    private double Read(byte[] data, int voxel)
    {
        var at = voxel * Type.Size();
        return Type switch
        {
            VoxelType.UInt8 => data[at],
            VoxelType.Int8 => (sbyte)data[at],
            VoxelType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(at)),
            VoxelType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(data.AsSpan(at)),
            VoxelType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at)),
            VoxelType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(at)),
            VoxelType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(at)),
            VoxelType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(at)),
            _ => throw new InvalidOperationException(),
        };
    }

    private void Write(byte[] data, int voxel, double value)
    {
        var at = voxel * Type.Size();
        var span = data.AsSpan(at);
        switch (Type)
        {
            case VoxelType.UInt8: data[at] = (byte)Saturate(value, byte.MinValue, byte.MaxValue); break;
            case VoxelType.Int8: data[at] = (byte)(sbyte)Saturate(value, sbyte.MinValue, sbyte.MaxValue); break;
            case VoxelType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)Saturate(value, ushort.MinValue, ushort.MaxValue)); break;
            case VoxelType.Int16: BinaryPrimitives.WriteInt16LittleEndian(span, (short)Saturate(value, short.MinValue, short.MaxValue)); break;
            case VoxelType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)Saturate(value, uint.MinValue, uint.MaxValue)); break;
            case VoxelType.Int32: BinaryPrimitives.WriteInt32LittleEndian(span, (int)Saturate(value, int.MinValue, int.MaxValue)); break;
            case VoxelType.Float32: BinaryPrimitives.WriteSingleLittleEndian(span, (float)value); break;
            case VoxelType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(span, value); break;
            default: throw new InvalidOperationException();
        }
    }

    private static double Saturate(double value, double min, double max)
        => double.IsNaN(value) ? 0 : Math.Clamp(Math.Round(value, MidpointRounding.AwayFromZero), min, max);
}
