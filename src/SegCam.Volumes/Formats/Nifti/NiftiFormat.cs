namespace SegCam.Volumes.Formats.Nifti;

/// <summary>
/// NIfTI-1 and NIfTI-2 single-file images (.nii, .nii.gz). Reads either version in either byte order, gzip detected
/// by its magic bytes; geometry from the sform, else the qform, else pixdim, converted from RAS to LPS; scl_slope and
/// scl_inter applied (giving float32 voxels). Writes little-endian NIfTI-1 with matching qform and sform.
/// </summary>
public sealed class NiftiFormat : IVolumeFormat
{
    /// <inheritdoc />
    public string Name => "NIfTI";

    /// <inheritdoc />
    public IReadOnlyList<string> Extensions { get; } = [".nii.gz", ".nii"];

    /// <inheritdoc />
    public Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken)
        => NiftiReader.Read(path, limits, cancellationToken);

    /// <inheritdoc />
    public void Write(Volume volume, string path, CancellationToken cancellationToken)
        => NiftiWriter.Write(volume, path, cancellationToken);
}
