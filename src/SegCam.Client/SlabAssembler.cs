using SegCam.Common.Errors;
using SegCam.Volumes;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Client;

/// <summary>Writes streamed <see cref="Proto.VoxelSlab"/>s into a preallocated volume, checking range and order.</summary>
internal sealed class SlabAssembler
{
    private readonly double _scale;
    private readonly double _offset;
    private readonly bool _quantised;
    private readonly long _end;
    private long _next;

    /// <summary>
    /// A float32 target (heatmaps; uint8 slabs are dequantised) or a uint8 one (label maps), expecting k-slices
    /// [<paramref name="firstSlice"/>, + <paramref name="sliceCount"/>) (null = all); the rest stays zero.
    /// </summary>
    public SlabAssembler(Volume target, Proto.VoxelType wireType, double scale = 1, double offset = 0, int firstSlice = 0, int? sliceCount = null)
    {
        Target = target;
        var size = target.Geometry.Size;
        var count = sliceCount ?? size.K - firstSlice;
        if (firstSlice < 0 || count < 0 || count > size.K - firstSlice)
        {
            throw new InvalidRequestException($"the server announced slices {firstSlice}..{firstSlice + count} of a volume with {size.K} slices");
        }

        _next = firstSlice * size.SliceVoxels;
        _end = (firstSlice + count) * size.SliceVoxels;
        _quantised = wireType == Proto.VoxelType.Uint8 && target.Type == VoxelType.Float32;
        if (!_quantised && Protocol.Mapping.GeometryMapping.ToVoxelType(wireType, "voxel_type") != target.Type)
        {
            throw new InvalidRequestException($"the server sent {wireType} voxels for a {target.Type} volume");
        }

        (_scale, _offset) = (scale, offset);
    }

    public Volume Target { get; }

    /// <summary>True once every voxel has arrived.</summary>
    public bool Complete => _next == _end;

    public void Add(Proto.VoxelSlab slab)
    {
        var wireSize = _quantised ? 1 : Target.Type.Size();
        var count = slab.Data.Length / wireSize;
        if (slab.VoxelOffset != _next || slab.Data.Length % wireSize != 0 || count > _end - _next)
        {
            throw new InvalidRequestException($"the server sent a slab at voxel {slab.VoxelOffset} with {slab.Data.Length} bytes; expected voxel {_next} and at most {_end - _next} voxels");
        }

        var data = slab.Data.Span;
        if (!_quantised)
        {
            Target.WriteBytes(_next * wireSize, data);
            _next += count;
            return;
        }

        var sliceVoxels = (int)Target.Geometry.Size.SliceVoxels;
        while (!data.IsEmpty)
        {
            var k = (int)(_next / sliceVoxels);
            var within = (int)(_next % sliceVoxels);
            var n = Math.Min(sliceVoxels - within, data.Length);
            var slice = Target.Slice<float>(k).Slice(within, n);
            for (var v = 0; v < n; v++)
            {
                slice[v] = (float)(_offset + (_scale * data[v]));
            }

            data = data[n..];
            _next += n;
        }
    }
}
