using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats.Nifti;

/// <summary>NIfTI <c>datatype</c> codes and their <c>bitpix</c>, for the voxel types this project supports.</summary>
internal static class NiftiDataTypes
{
    private static readonly (short Code, VoxelType Type, string Name)[] Supported =
    [
        (2, VoxelType.UInt8, "uint8"),
        (256, VoxelType.Int8, "int8"),
        (4, VoxelType.Int16, "int16"),
        (512, VoxelType.UInt16, "uint16"),
        (8, VoxelType.Int32, "int32"),
        (768, VoxelType.UInt32, "uint32"),
        (16, VoxelType.Float32, "float32"),
        (64, VoxelType.Float64, "float64"),
    ];

    /// <summary>The datatype code a NIfTI writer stores for <paramref name="type"/>.</summary>
    public static short CodeOf(VoxelType type)
    {
        foreach (var entry in Supported)
        {
            if (entry.Type == type)
            {
                return entry.Code;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(type), type, "not a voxel type");
    }

    /// <summary>Bits per voxel (the header's <c>bitpix</c>) for <paramref name="type"/>.</summary>
    public static short BitPixOf(VoxelType type) => (short)(type.Size() * 8);

    /// <summary>
    /// The voxel type of <paramref name="code"/>; throws <see cref="VolumeFormatException"/> naming the code and the
    /// supported ones when it is unsupported, or when <paramref name="bitPix"/> disagrees with it.
    /// </summary>
    public static VoxelType TypeOf(int code, int bitPix, string path)
    {
        foreach (var entry in Supported)
        {
            if (entry.Code == code)
            {
                var expected = BitPixOf(entry.Type);
                if (bitPix != expected)
                {
                    throw new VolumeFormatException($"'{path}': NIfTI bitpix is {bitPix}, but datatype {code} ({entry.Name}) has {expected} bits per voxel");
                }

                return entry.Type;
            }
        }

        var allowed = string.Join(", ", Supported.Select(e => $"{e.Code} ({e.Name})"));
        throw new VolumeFormatException($"'{path}': NIfTI datatype {code} ({Describe(code)}) is not supported; supported datatypes: {allowed}");
    }

    private static string Describe(int code) => code switch
    {
        0 => "unknown",
        1 => "binary",
        32 => "complex64",
        128 => "rgb24",
        255 => "all",
        1024 => "int64",
        1280 => "uint64",
        1536 => "float128",
        1792 => "complex128",
        2048 => "complex256",
        2304 => "rgba32",
        _ => "not a NIfTI datatype",
    };
}
