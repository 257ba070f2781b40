namespace SegCam.Volumes.Geometry;

/// <summary>Voxels along the i, j, k index axes (k is the slice axis of a slice stack).</summary>
public readonly record struct GridSize(int I, int J, int K)
{
    /// <summary>Voxels along <paramref name="axis"/> (0 = i, 1 = j, 2 = k).</summary>
    public int this[int axis] => axis switch
    {
        0 => I,
        1 => J,
        2 => K,
        _ => throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis must be 0, 1 or 2"),
    };

    /// <summary>Voxels per k-slice.</summary>
    public long SliceVoxels => (long)I * J;

    /// <summary>Voxels in the grid.</summary>
    public long Voxels => (long)I * J * K;

    public override string ToString() => $"{I}×{J}×{K}";
}
