namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>How a NRRD file's voxel bytes are stored.</summary>
internal enum NrrdEncoding
{
    /// <summary>Uncompressed binary.</summary>
    Raw,

    /// <summary>Binary compressed with gzip.</summary>
    Gzip,

    /// <summary>Whitespace-separated decimal numbers.</summary>
    Ascii,
}
