namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>A segment's display colour: red, green and blue from 0 to 1 (as 3D Slicer stores it).</summary>
/// <param name="R">Red, 0 to 1.</param>
/// <param name="G">Green, 0 to 1.</param>
/// <param name="B">Blue, 0 to 1.</param>
public readonly record struct SegmentColor(double R, double G, double B);
