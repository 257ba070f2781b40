namespace SegCam.Volumes.Formats;

/// <summary>One medical image file format: how it is recognised, read and written.</summary>
public interface IVolumeFormat
{
    /// <summary>Display name ("NIfTI", "NRRD", …).</summary>
    string Name { get; }

    /// <summary>File name endings this format owns, lower case with the dot (".nii.gz" before ".nii").</summary>
    IReadOnlyList<string> Extensions { get; }

    /// <summary>Reads <paramref name="path"/>; header sizes are checked against <paramref name="limits"/> before any voxel allocation.</summary>
    Volume Read(string path, VolumeLimits limits, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="volume"/> to <paramref name="path"/> with its geometry.</summary>
    void Write(Volume volume, string path, CancellationToken cancellationToken);
}
