using System.Buffers.Binary;
using System.Text;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.Nifti;

/// <summary>
/// The fields of a NIfTI-1 or NIfTI-2 header this project uses, in a version-neutral form; decodes either version in
/// either byte order and encodes little-endian NIfTI-1. Decoding checks only what is needed to find the fields
/// (<c>sizeof_hdr</c> and the magic); <see cref="NiftiReader"/> validates the values.
/// </summary>
internal sealed record NiftiHeader
{
    /// <summary>sizeof_hdr of NIfTI-1.</summary>
    public const int Nifti1Size = 348;

    /// <summary>sizeof_hdr of NIfTI-2.</summary>
    public const int Nifti2Size = 540;

    /// <summary>Smallest vox_offset of a single-file NIfTI-1 (header plus the 4-byte extension flag).</summary>
    public const int Nifti1DataOffset = 352;

    private static readonly byte[] Nifti1Magic = "n+1\0"u8.ToArray();
    private static readonly byte[] Nifti1PairMagic = "ni1\0"u8.ToArray();
    private static readonly byte[] Nifti2Magic = "n+2\0\r\n\u001a\n"u8.ToArray();
    private static readonly byte[] Nifti2PairMagic = "ni2\0\r\n\u001a\n"u8.ToArray();

    /// <summary>1 or 2.</summary>
    public int Version { get; init; } = 1;

    /// <summary>True when the file was written big-endian (header fields and voxels).</summary>
    public bool BigEndian { get; init; }

    /// <summary>sizeof_hdr: 348 or 540.</summary>
    public int HeaderSize => Version == 2 ? Nifti2Size : Nifti1Size;

    /// <summary>dim[0..7]: dim[0] is the number of dimensions, dim[1..] the sizes.</summary>
    public IReadOnlyList<long> Dim { get; init; } = [3, 1, 1, 1, 1, 1, 1, 1];

    /// <summary>The datatype code.</summary>
    public int DataType { get; init; }

    /// <summary>Bits per voxel.</summary>
    public int BitPix { get; init; }

    /// <summary>pixdim[0..7]: pixdim[0] is qfac, pixdim[1..3] the voxel size.</summary>
    public IReadOnlyList<double> PixDim { get; init; } = [1, 1, 1, 1, 1, 1, 1, 1];

    /// <summary>Byte offset of the voxel data (a float in NIfTI-1).</summary>
    public double VoxOffset { get; init; } = Nifti1DataOffset;

    /// <summary>scl_slope (0 or NaN: no scaling).</summary>
    public double SclSlope { get; init; } = 1;

    /// <summary>scl_inter.</summary>
    public double SclInter { get; init; }

    /// <summary>xyzt_units: spatial unit in bits 0–2, temporal in bits 3–5.</summary>
    public int XyztUnits { get; init; } = 2;

    /// <summary>qform_code (0: no qform).</summary>
    public int QformCode { get; init; }

    /// <summary>sform_code (0: no sform).</summary>
    public int SformCode { get; init; }

    /// <summary>quatern_b, quatern_c, quatern_d.</summary>
    public Vector3 Quatern { get; init; }

    /// <summary>qoffset_x, qoffset_y, qoffset_z (RAS).</summary>
    public Vector3 QOffset { get; init; }

    /// <summary>srow_x, srow_y, srow_z: the first three rows of the 4×4 RAS affine, row-major (12 values).</summary>
    public IReadOnlyList<double> SRows { get; init; } = new double[12];

    /// <summary>descrip (at most 79 ASCII characters are stored).</summary>
    public string Description { get; init; } = "";

    /// <summary>
    /// Reads and decodes the header at the start of <paramref name="stream"/>: the byte order and version come from
    /// sizeof_hdr, then the magic is checked. Throws <see cref="VolumeFormatException"/> for anything that is not a
    /// single-file NIfTI-1 or NIfTI-2 header.
    /// </summary>
    public static NiftiHeader Read(Stream stream, string path)
    {
        var bytes = new byte[Nifti2Size];
        VoxelStreams.ReadExactly(stream, bytes.AsSpan(0, 4), path, "NIfTI header");
        var (version, bigEndian) = DetectVersion(bytes, path);
        var size = version == 2 ? Nifti2Size : Nifti1Size;
        VoxelStreams.ReadExactly(stream, bytes.AsSpan(4, size - 4), path, $"NIfTI-{version} header (bytes 4 to {size})");
        var fields = new FieldReader(bytes, bigEndian);
        return version == 2 ? DecodeNifti2(fields, path) : DecodeNifti1(fields, path);
    }

    /// <summary>This header as little-endian NIfTI-1: 348 header bytes and 4 zero extension-flag bytes.</summary>
    public byte[] EncodeNifti1()
    {
        var bytes = new byte[Nifti1DataOffset];
        var s = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(s, Nifti1Size);
        s[38] = (byte)'r';
        for (var d = 0; d < 8; d++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(s[(40 + (2 * d))..], checked((short)Dim[d]));
            BinaryPrimitives.WriteSingleLittleEndian(s[(76 + (4 * d))..], (float)PixDim[d]);
        }

        BinaryPrimitives.WriteInt16LittleEndian(s[70..], checked((short)DataType));
        BinaryPrimitives.WriteInt16LittleEndian(s[72..], checked((short)BitPix));
        BinaryPrimitives.WriteSingleLittleEndian(s[108..], (float)VoxOffset);
        BinaryPrimitives.WriteSingleLittleEndian(s[112..], (float)SclSlope);
        BinaryPrimitives.WriteSingleLittleEndian(s[116..], (float)SclInter);
        s[123] = checked((byte)XyztUnits);
        var description = Encoding.ASCII.GetBytes(Description);
        description.AsSpan(0, Math.Min(description.Length, 79)).CopyTo(s[148..]);
        BinaryPrimitives.WriteInt16LittleEndian(s[252..], checked((short)QformCode));
        BinaryPrimitives.WriteInt16LittleEndian(s[254..], checked((short)SformCode));
        for (var a = 0; a < 3; a++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(s[(256 + (4 * a))..], (float)Quatern[a]);
            BinaryPrimitives.WriteSingleLittleEndian(s[(268 + (4 * a))..], (float)QOffset[a]);
        }

        for (var e = 0; e < 12; e++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(s[(280 + (4 * e))..], (float)SRows[e]);
        }

        Nifti1Magic.CopyTo(s[344..]);
        return bytes;
    }

    private static (int Version, bool BigEndian) DetectVersion(byte[] bytes, string path)
    {
        var little = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        var big = BinaryPrimitives.ReadInt32BigEndian(bytes);
        return little switch
        {
            Nifti1Size => (1, false),
            Nifti2Size => (2, false),
            _ => big switch
            {
                Nifti1Size => (1, true),
                Nifti2Size => (2, true),
                _ => throw new VolumeFormatException(
                    $"'{path}' is not a NIfTI file: sizeof_hdr is {little} (expected {Nifti1Size} for NIfTI-1 or {Nifti2Size} for NIfTI-2, in either byte order)"),
            },
        };
    }

    private static void CheckMagic(ReadOnlySpan<byte> magic, byte[] single, byte[] pair, int version, string path)
    {
        if (magic.SequenceEqual(single))
        {
            return;
        }

        if (magic.SequenceEqual(pair))
        {
            throw new VolumeFormatException(
                $"'{path}' is the header of a NIfTI-{version} .hdr/.img pair (magic \"ni{version}\"); only single-file NIfTI (.nii, .nii.gz) is supported");
        }

        throw new VolumeFormatException($"'{path}' is not a NIfTI-{version} file: bad magic \"{Printable(magic)}\" (expected \"{Printable(single)}\")");
    }

    private static string Printable(ReadOnlySpan<byte> magic)
    {
        var text = new StringBuilder();
        foreach (var b in magic)
        {
            text.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}");
        }

        return text.ToString();
    }

    private static NiftiHeader DecodeNifti1(FieldReader f, string path)
    {
        CheckMagic(f.Bytes.AsSpan(344, 4), Nifti1Magic, Nifti1PairMagic, 1, path);
        var dim = new long[8];
        var pixDim = new double[8];
        for (var d = 0; d < 8; d++)
        {
            dim[d] = f.Int16(40 + (2 * d));
            pixDim[d] = f.Single(76 + (4 * d));
        }

        var rows = new double[12];
        for (var e = 0; e < 12; e++)
        {
            rows[e] = f.Single(280 + (4 * e));
        }

        return new NiftiHeader
        {
            Version = 1,
            BigEndian = f.BigEndian,
            Dim = dim,
            DataType = f.Int16(70),
            BitPix = f.Int16(72),
            PixDim = pixDim,
            VoxOffset = f.Single(108),
            SclSlope = f.Single(112),
            SclInter = f.Single(116),
            XyztUnits = f.Bytes[123],
            QformCode = f.Int16(252),
            SformCode = f.Int16(254),
            Quatern = new Vector3(f.Single(256), f.Single(260), f.Single(264)),
            QOffset = new Vector3(f.Single(268), f.Single(272), f.Single(276)),
            SRows = rows,
            Description = Text(f.Bytes.AsSpan(148, 80)),
        };
    }

    private static NiftiHeader DecodeNifti2(FieldReader f, string path)
    {
        CheckMagic(f.Bytes.AsSpan(4, 8), Nifti2Magic, Nifti2PairMagic, 2, path);
        var dim = new long[8];
        var pixDim = new double[8];
        for (var d = 0; d < 8; d++)
        {
            dim[d] = f.Int64(16 + (8 * d));
            pixDim[d] = f.Double(104 + (8 * d));
        }

        var rows = new double[12];
        for (var e = 0; e < 12; e++)
        {
            rows[e] = f.Double(400 + (8 * e));
        }

        var voxOffset = f.Int64(168);
        return new NiftiHeader
        {
            Version = 2,
            BigEndian = f.BigEndian,
            Dim = dim,
            DataType = f.Int16(12),
            BitPix = f.Int16(14),
            PixDim = pixDim,
            VoxOffset = voxOffset,
            SclSlope = f.Double(176),
            SclInter = f.Double(184),
            XyztUnits = f.Int32(500),
            QformCode = f.Int32(344),
            SformCode = f.Int32(348),
            Quatern = new Vector3(f.Double(352), f.Double(360), f.Double(368)),
            QOffset = new Vector3(f.Double(376), f.Double(384), f.Double(392)),
            SRows = rows,
            Description = Text(f.Bytes.AsSpan(240, 80)),
        };
    }

    private static string Text(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? field : field[..end]);
    }

    /// <summary>Reads header fields in the file's byte order.</summary>
    private readonly record struct FieldReader(byte[] Bytes, bool BigEndian)
    {
        public short Int16(int at) => BigEndian ? BinaryPrimitives.ReadInt16BigEndian(Bytes.AsSpan(at)) : BinaryPrimitives.ReadInt16LittleEndian(Bytes.AsSpan(at));

        public int Int32(int at) => BigEndian ? BinaryPrimitives.ReadInt32BigEndian(Bytes.AsSpan(at)) : BinaryPrimitives.ReadInt32LittleEndian(Bytes.AsSpan(at));

        public long Int64(int at) => BigEndian ? BinaryPrimitives.ReadInt64BigEndian(Bytes.AsSpan(at)) : BinaryPrimitives.ReadInt64LittleEndian(Bytes.AsSpan(at));

        public float Single(int at) => BigEndian ? BinaryPrimitives.ReadSingleBigEndian(Bytes.AsSpan(at)) : BinaryPrimitives.ReadSingleLittleEndian(Bytes.AsSpan(at));

        public double Double(int at) => BigEndian ? BinaryPrimitives.ReadDoubleBigEndian(Bytes.AsSpan(at)) : BinaryPrimitives.ReadDoubleLittleEndian(Bytes.AsSpan(at));
    }
}
