namespace SegCam.Volumes.Formats;

/// <summary>A format whose images are folders of files (a DICOM series); <see cref="VolumeFile"/> sends folders to it.</summary>
public interface IFolderVolumeFormat : IVolumeFormat
{
}
