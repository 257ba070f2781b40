using SegCam.Common.Errors;
using SegCam.Volumes;
using Proto = SegCam.Protocol.V1;

namespace SegCam.Server.Storage;

/// <summary>Resolves a request's <see cref="Proto.VolumeSource"/>: a stored volume, or a small inline one.</summary>
internal sealed class VolumeSources(VolumeStore store, Hosting.SegCamServerOptions options)
{
    public Volume Resolve(Proto.VolumeSource? source, string field)
    {
        switch (source?.SourceCase ?? Proto.VolumeSource.SourceOneofCase.None)
        {
            case Proto.VolumeSource.SourceOneofCase.VolumeId:
                return store.Get(source!.VolumeId, $"{field}.volume_id").Volume;
            case Proto.VolumeSource.SourceOneofCase.Inline:
                var inline = source!.Inline;
                using (var assembler = new VolumeAssembler(inline.Header, options.MaxVoxels, $"{field}.inline.header"))
                {
                    if (assembler.ExpectedBytes > options.MaxInlineBytes)
                    {
                        throw new ResourceLimitException($"{field}.inline holds {assembler.ExpectedBytes} voxel bytes; inline volumes may hold at most {options.MaxInlineBytes}: upload larger ones with UploadVolume");
                    }

                    assembler.Append(0, inline.Data.Span, $"{field}.inline.data");
                    return assembler.Complete($"{field}.inline").Volume;
                }

            default:
                throw new InvalidRequestException($"{field} is missing; give volume_id (from UploadVolume) or inline (header and data)");
        }
    }
}
