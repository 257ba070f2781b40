namespace SegCam.Volumes.Dicom;

/// <summary>
/// The modality rescale, value = stored × RescaleSlope + RescaleIntercept (per slice), and the voxel type that
/// holds the result exactly: Float32 when slope and intercept differ between slices or make values non-integral,
/// otherwise Int16 when the rescaled range of the actual data fits, else Int32, else Float32.
/// </summary>
internal static class DicomRescale
{
    /// <summary>The voxel type for slices with these rescale pairs and stored ranges.</summary>
    public static VoxelType ChooseType(IReadOnlyList<(double Slope, double Intercept, long Min, long Max)> slices)
    {
        ArgumentNullException.ThrowIfNull(slices);
        var (slope, intercept, _, _) = slices[0];
        if (slices.Any(s => s.Slope != slope || s.Intercept != intercept) || !IsInteger(slope) || !IsInteger(intercept))
        {
            return VoxelType.Float32;
        }

        double low = double.MaxValue, high = double.MinValue;
        foreach (var s in slices)
        {
            var a = (s.Min * slope) + intercept;
            var b = (s.Max * slope) + intercept;
            low = Math.Min(low, Math.Min(a, b));
            high = Math.Max(high, Math.Max(a, b));
        }

        return low >= short.MinValue && high <= short.MaxValue ? VoxelType.Int16
            : low >= int.MinValue && high <= int.MaxValue ? VoxelType.Int32
            : VoxelType.Float32;
    }

    /// <summary>Writes <paramref name="pixels"/> rescaled into slice <paramref name="k"/> of <paramref name="volume"/>.</summary>
    public static void Fill(Volume volume, int k, StoredPixels pixels, double slope, double intercept)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(pixels);
        switch (volume.Type)
        {
            case VoxelType.Int16:
                {
                    var target = volume.Slice<short>(k);
                    for (var v = 0; v < pixels.Count; v++)
                    {
                        target[v] = checked((short)((pixels[v] * (long)slope) + (long)intercept));
                    }

                    break;
                }

            case VoxelType.Int32:
                {
                    var target = volume.Slice<int>(k);
                    for (var v = 0; v < pixels.Count; v++)
                    {
                        target[v] = checked((int)((pixels[v] * (long)slope) + (long)intercept));
                    }

                    break;
                }

            case VoxelType.Float32:
                {
                    var target = volume.Slice<float>(k);
                    for (var v = 0; v < pixels.Count; v++)
                    {
                        target[v] = (float)((pixels[v] * slope) + intercept);
                    }

                    break;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(volume), volume.Type, "DICOM voxels are Int16, Int32 or Float32");
        }
    }

    private static bool IsInteger(double value) => value == Math.Floor(value) && Math.Abs(value) < 1L << 53;
}
