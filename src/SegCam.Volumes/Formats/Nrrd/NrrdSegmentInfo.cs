namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>
/// One segment of a 3D Slicer segmentation (.seg.nrrd): the label value its voxels hold in the label map and how it is
/// shown. Read from and written as the <c>Segment{n}_…</c> key/value pairs of the NRRD header.
/// </summary>
/// <param name="Name">The name a user sees (e.g. "liver").</param>
/// <param name="LabelValue">The voxel value of this segment in the label map (positive).</param>
public sealed record NrrdSegmentInfo(string Name, int LabelValue)
{
    /// <summary>Layer of a multi-layer segmentation; always 0 in the 3-D label maps this project reads and writes.</summary>
    public int Layer { get; init; }

    /// <summary>Slicer's segment identifier (unique within the file); <c>Segment_{LabelValue}</c> is written when null.</summary>
    public string? Id { get; init; }

    /// <summary>Display colour; a colour from a fixed palette is written when null.</summary>
    public SegmentColor? Color { get; init; }
}
