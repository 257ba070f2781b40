using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace SegCam.Volumes.Tests.Formats;

/// <summary>
/// Hand-made NIfTI-1 files for the reader tests, written field by field from the NIfTI-1 standard's layout (nifti1.h),
/// independently of the code under test; and byte-swapped copies of the nibabel fixtures.
/// </summary>
internal sealed class NiftiTestFiles
{
    public int SizeOfHeader { get; set; } = 348;

    public IList<short> Dim { get; set; } = [3, 4, 3, 2, 1, 1, 1, 1];

    public short DataType { get; set; } = 4;

    public short BitPix { get; set; } = 16;

    public IList<float> PixDim { get; set; } = [1, 1.5f, 2, 3, 1, 1, 1, 1];

    public float VoxOffset { get; set; } = 352;

    public float SclSlope { get; set; }

    public float SclInter { get; set; }

    public byte XyztUnits { get; set; } = 2;

    public short QformCode { get; set; }

    public short SformCode { get; set; } = 1;

    /// <summary>quatern_b, c, d.</summary>
    public IList<float> Quatern { get; set; } = [0, 0, 0];

    /// <summary>qoffset_x, y, z.</summary>
    public IList<float> QOffset { get; set; } = [0, 0, 0];

    /// <summary>srow_x, srow_y, srow_z: RAS diag(1.5, 2, 3) with offset (−10, 20, 5) by default.</summary>
    public IList<float> SRows { get; set; } = [1.5f, 0, 0, -10, 0, 2, 0, 20, 0, 0, 3, 5];

    public string Magic { get; set; } = "n+1\0";

    public bool BigEndian { get; set; }

    /// <summary>Bytes written from byte 348 on (the extension flag and any extensions), before the voxel data.</summary>
    public byte[] Extensions { get; set; } = [];

    /// <summary>The 24 int16 voxels of the default 4×3×2 image: value = 3i − 7j + 100k − 50, i fastest.</summary>
    public static short[] DefaultVoxels()
    {
        var values = new short[24];
        for (var k = 0; k < 2; k++)
        {
            for (var j = 0; j < 3; j++)
            {
                for (var i = 0; i < 4; i++)
                {
                    values[i + (4 * j) + (12 * k)] = (short)((3 * i) - (7 * j) + (100 * k) - 50);
                }
            }
        }

        return values;
    }

    /// <summary>Little-endian bytes of <paramref name="values"/>.</summary>
    public static byte[] Bytes(short[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (var v = 0; v < values.Length; v++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * v), values[v]);
        }

        return bytes;
    }

    /// <summary>The file: header, extensions (zero-padded up to vox_offset, at least 4 bytes), then <paramref name="littleEndianVoxels"/> in the file's byte order.</summary>
    public byte[] Build(byte[] littleEndianVoxels, int elementSize)
    {
        var padded = VoxOffset is >= 352 and <= 1 << 20 ? (int)VoxOffset : 352;     // hostile offsets: data right after the header
        var dataAt = Math.Max(348 + Math.Max(4, Extensions.Length), padded);
        var file = new byte[dataAt + littleEndianVoxels.Length];
        var s = file.AsSpan();
        I32(s, 0, SizeOfHeader);
        for (var d = 0; d < 8; d++)
        {
            I16(s, 40 + (2 * d), Dim[d]);
            F32(s, 76 + (4 * d), PixDim[d]);
        }

        I16(s, 70, DataType);
        I16(s, 72, BitPix);
        F32(s, 108, VoxOffset);
        F32(s, 112, SclSlope);
        F32(s, 116, SclInter);
        s[123] = XyztUnits;
        I16(s, 252, QformCode);
        I16(s, 254, SformCode);
        for (var a = 0; a < 3; a++)
        {
            F32(s, 256 + (4 * a), Quatern[a]);
            F32(s, 268 + (4 * a), QOffset[a]);
        }

        for (var e = 0; e < 12; e++)
        {
            F32(s, 280 + (4 * e), SRows[e]);
        }

        Encoding.Latin1.GetBytes(Magic).CopyTo(s[344..]);
        Extensions.CopyTo(s[348..]);
        littleEndianVoxels.CopyTo(s[dataAt..]);
        if (BigEndian)
        {
            Swap(s[dataAt..], elementSize);
        }

        return file;
    }

    /// <summary>A gzip stream (one member) of <paramref name="parts"/>, concatenated.</summary>
    public static byte[] Gzip(params byte[][] parts)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var part in parts)
            {
                gzip.Write(part);
            }
        }

        return memory.ToArray();
    }

    /// <summary>
    /// A big-endian copy of a little-endian NIfTI-1 or NIfTI-2 file with int16 voxels: every numeric header field
    /// (offsets from nifti1.h / nifti2.h) and every voxel swapped.
    /// </summary>
    public static byte[] ToBigEndian(byte[] file, int version)
    {
        var copy = (byte[])file.Clone();
        var s = copy.AsSpan();
        (int At, int Size, int Count)[] fields = version == 1
            ? [(0, 4, 1), (32, 4, 1), (36, 2, 1), (40, 2, 8), (56, 4, 3), (68, 2, 4), (76, 4, 11), (120, 2, 1), (124, 4, 4), (140, 4, 2), (252, 2, 2), (256, 4, 18)]
            : [(0, 4, 1), (12, 2, 2), (16, 8, 8), (80, 8, 3), (104, 8, 8), (168, 8, 1), (176, 8, 6), (224, 8, 2), (344, 4, 2), (352, 8, 18), (496, 4, 3)];
        var voxOffset = version == 1 ? (int)BinaryPrimitives.ReadSingleLittleEndian(s[108..]) : (int)BinaryPrimitives.ReadInt64LittleEndian(s[168..]);
        foreach (var (at, size, count) in fields)
        {
            Swap(s.Slice(at, size * count), size);
        }

        Swap(s[voxOffset..], 2);
        return copy;
    }

    private static void Swap(Span<byte> data, int elementSize)
    {
        for (var at = 0; at + elementSize <= data.Length; at += elementSize)
        {
            data.Slice(at, elementSize).Reverse();
        }
    }

    private void I16(Span<byte> s, int at, short value)
    {
        if (BigEndian)
        {
            BinaryPrimitives.WriteInt16BigEndian(s[at..], value);
        }
        else
        {
            BinaryPrimitives.WriteInt16LittleEndian(s[at..], value);
        }
    }

    private void I32(Span<byte> s, int at, int value)
    {
        if (BigEndian)
        {
            BinaryPrimitives.WriteInt32BigEndian(s[at..], value);
        }
        else
        {
            BinaryPrimitives.WriteInt32LittleEndian(s[at..], value);
        }
    }

    private void F32(Span<byte> s, int at, float value)
    {
        if (BigEndian)
        {
            BinaryPrimitives.WriteSingleBigEndian(s[at..], value);
        }
        else
        {
            BinaryPrimitives.WriteSingleLittleEndian(s[at..], value);
        }
    }
}
