using System.Security.Cryptography;
using Google.Protobuf;
using SegCam.Common.Errors;
using SegCam.Protocol.Mapping;
using SegCam.Server.Mapping;
using SegCam.Volumes;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Storage;

/// <summary>
/// Builds a volume from a header and its voxel bytes arriving in order (i fastest, little-endian), hashing as it goes;
/// checks sizes against the limits before allocating and completeness at the end. Memory: the volume itself.
/// </summary>
internal sealed class VolumeAssembler : IDisposable
{
    private readonly IncrementalHash _content = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Volumes.Geometry.VolumeGeometry _geometry;
    private readonly VoxelType _type;
    private readonly long _maxVoxels;
    private readonly byte[] _header;
    private Volume? _volume;
    private long _received;

    /// <summary>Checks <paramref name="header"/> against <paramref name="maxVoxels"/> and allocates the volume.</summary>
    public VolumeAssembler(Proto.VolumeHeader? header, long maxVoxels, string field)
    {
        if (header is null)
        {
            throw new InvalidRequestException($"{field} is missing; the first message must be the header (geometry and voxel type)");
        }

        var geometry = GeometryMapping.ToGeometry(header.Geometry, $"{field}.geometry");
        var type = GeometryMapping.ToVoxelType(header.VoxelType, $"{field}.voxel_type");
        var voxels = geometry.Size.Voxels;
        if (voxels > maxVoxels)
        {
            throw new ResourceLimitException($"{field}.geometry.size {geometry.Size} has {voxels} voxels; this server accepts at most {maxVoxels}");
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("the wire format is little-endian; this server needs a little-endian CPU");
        }

        ExpectedBytes = checked(voxels * type.Size());
        (_geometry, _type, _maxVoxels) = (geometry, type, maxVoxels);
        _header = [.. GeometryMapping.ToProto(geometry).ToByteArray(), .. BitConverter.GetBytes((int)header.VoxelType)];
    }

    // Allocated with the first voxels, so a caller can reserve room for ExpectedBytes first.
    private Volume Target => _volume ??= new Volume(_geometry, _type, new VolumeLimits { MaxVoxels = _maxVoxels, MaxBytes = long.MaxValue });

    /// <summary>Voxel bytes the header announces.</summary>
    public long ExpectedBytes { get; }

    public long Received => _received;

    /// <summary>Copies <paramref name="data"/>, which must start at byte <paramref name="offset"/> = bytes received so far.</summary>
    public void Append(long offset, ReadOnlySpan<byte> data, string field)
    {
        if (offset != _received)
        {
            throw new InvalidRequestException($"{field}.offset is {offset}, but {_received} bytes have arrived; chunks must come in order without gaps or repeats");
        }

        if (data.Length > ExpectedBytes - _received)
        {
            throw new InvalidRequestException($"{field} would bring the volume to {_received + data.Length} bytes; the header announces {ExpectedBytes} ({_geometry.Size} × {_type})");
        }

        _content.AppendData(data);
        Target.WriteBytes(_received, data);
        _received += data.Length;
    }

    /// <summary>The completed volume, the hex SHA-256 of its voxels, and its content id (geometry, type and voxels).</summary>
    public (Volume Volume, string Sha256, string Id) Complete(string what)
    {
        if (_received != ExpectedBytes)
        {
            throw new InvalidRequestException($"{what} is incomplete: {_received} of {ExpectedBytes} voxel bytes arrived ({_geometry.Size} × {_type})");
        }

        var content = _content.GetHashAndReset();
        var sha = Convert.ToHexStringLower(content);
        var id = "vol-" + Convert.ToHexStringLower(SHA256.HashData([.. _header, .. content]))[..32]; // geometry, type and voxels
        
        return (Target, sha, id);
    }

    public void Dispose()
    {
        _content.Dispose();
    }
}
