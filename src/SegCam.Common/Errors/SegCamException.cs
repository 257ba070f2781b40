namespace SegCam.Common.Errors;

/// <summary>Base of every error SegCamPlugin reports to a user; <see cref="Kind"/> picks the exit code or status.</summary>
public abstract class SegCamException : Exception
{
    protected SegCamException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    /// <summary>The category a host maps to an exit code or gRPC status.</summary>
    public abstract ErrorKind Kind { get; }
}

/// <summary>A model file that cannot be read or is not a usable ONNX model.</summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : SegCamException(message, inner)
{
    public override ErrorKind Kind => ErrorKind.InvalidInput;
}

/// <summary>An operator on the differentiation path that has no gradient rule.</summary>
public sealed class UnsupportedOperatorException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.Unsupported;
}

/// <summary>A layer, class or tensor name that does not exist in the model.</summary>
public sealed class TargetNotFoundException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.NotFound;
}

/// <summary>An input array or option that does not fit the model or the request.</summary>
public sealed class InvalidRequestException(string message, Exception? inner = null) : SegCamException(message, inner)
{
    public override ErrorKind Kind => ErrorKind.InvalidInput;
}

/// <summary>An array file (.npy) that is malformed or of an unsupported kind.</summary>
public sealed class ArrayFormatException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.InvalidInput;
}

/// <summary>A file that does not exist.</summary>
public sealed class InputFileNotFoundException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.NotFound;
}

/// <summary>A size limit that a request or file would exceed.</summary>
public sealed class ResourceLimitException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.ResourceLimit;
}

/// <summary>A medical image file (NIfTI, NRRD, MetaImage, DICOM) that is malformed, hostile or of an unsupported kind.</summary>
public sealed class VolumeFormatException(string message, Exception? inner = null) : SegCamException(message, inner)
{
    public override ErrorKind Kind => ErrorKind.InvalidInput;
}

/// <summary>Two images that must share one voxel grid (image and label map, image and heatmap) do not.</summary>
public sealed class GeometryMismatchException(string message) : SegCamException(message)
{
    public override ErrorKind Kind => ErrorKind.InvalidInput;
}
