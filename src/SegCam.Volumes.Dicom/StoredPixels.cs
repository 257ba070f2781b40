using System.Buffers.Binary;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// One decoded slice as DICOM stores it: little-endian words of BitsAllocated bits whose value is bits
/// HighBit−BitsStored+1 … HighBit, two's complement when PixelRepresentation is 1. Bits outside that range
/// (overlays, junk) are ignored; values are read as the standard defines them.
/// </summary>
internal sealed class StoredPixels
{
    private readonly byte[] _data;
    private readonly int _bytes;
    private readonly int _shift;
    private readonly ulong _mask;
    private readonly long _signBit;

    /// <summary>Wraps <paramref name="data"/> (not copied) and finds its range.</summary>
    public StoredPixels(byte[] data, int count, int bitsAllocated, int bitsStored, int highBit, bool signed, string name)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckLayout(bitsAllocated, bitsStored, highBit, name);
        if ((long)count * (bitsAllocated / 8) > data.Length)
        {
            throw new VolumeFormatException($"'{name}': decoded pixel data has {data.Length} bytes, {(long)count * (bitsAllocated / 8)} expected");
        }

        _data = data;
        _bytes = bitsAllocated / 8;
        _shift = highBit + 1 - bitsStored;
        _mask = (1UL << bitsStored) - 1;
        _signBit = signed ? 1L << (bitsStored - 1) : 0;
        Count = count;

        long min = long.MaxValue, max = long.MinValue;
        for (var v = 0; v < count; v++)
        {
            var value = this[v];
            min = Math.Min(min, value);
            max = Math.Max(max, value);
        }

        Min = min;
        Max = max;
    }

    /// <summary>Throws <see cref="VolumeFormatException"/> unless the bit layout is one this class reads.</summary>
    public static void CheckLayout(int bitsAllocated, int bitsStored, int highBit, string name)
    {
        if (bitsAllocated is not (8 or 16 or 32))
        {
            throw new VolumeFormatException($"'{name}': {bitsAllocated} bits allocated per pixel is not supported (8, 16 or 32)");
        }

        if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated)
        {
            throw new VolumeFormatException($"'{name}': BitsStored {bitsStored} / HighBit {highBit} do not fit in {bitsAllocated} bits allocated");
        }
    }

    /// <summary>Pixels in the slice.</summary>
    public int Count { get; }

    /// <summary>Smallest stored value.</summary>
    public long Min { get; }

    /// <summary>Largest stored value.</summary>
    public long Max { get; }

    /// <summary>Stored value of pixel <paramref name="voxel"/> (row-major: column fastest).</summary>
    public long this[int voxel]
    {
        get
        {
            ulong word = _bytes switch
            {
                1 => _data[voxel],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(voxel * 2)),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(voxel * 4)),
            };
            var value = (long)((word >> _shift) & _mask);
            return (value & _signBit) != 0 ? value - (_signBit << 1) : value;
        }
    }
}
