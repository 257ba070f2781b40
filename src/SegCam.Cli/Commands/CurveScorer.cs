using SegCam.Cam.Execution;
using SegCam.Pipelines;
using SegCam.Volumes;
using SegCam.Volumes.Formats;

namespace SegCam.Cli.Commands;

/// <summary>
/// The score callback of deletion/insertion curves: the image with the removed voxels set to a baseline value, run
/// through the model's volume pipeline, S = Σ over the mask of the class logit.
/// </summary>
internal sealed class CurveScorer : IDisposable
{
    private readonly CamEngine _engine = new();
    private readonly IVolumePipeline _pipeline;
    private readonly Volume _image;
    private readonly VolumePixelSet _mask;
    private readonly int _class;
    private readonly double _baseline;
    private readonly CancellationToken _cancellationToken;

    public CurveScorer(string model, string image, string cls, Volume mask, double baseline, CancellationToken cancellationToken)
    {
        var (m, card) = ModelLocator.Load(model);
        _pipeline = VolumePipelines.For(_engine, m, card);
        _image = VolumeFile.Read(image, cancellationToken: cancellationToken).ConvertTo(VoxelType.Float32);
        _image.Geometry.RequireSameGrid(mask.Geometry, "the mask");
        _mask = VolumePixelSet.Label(VolumeMasks.NonZero(mask), 1);
        _class = card.ClassIndex(cls);
        _baseline = baseline;
        _cancellationToken = cancellationToken;
    }

    /// <summary>S of the image with <paramref name="removed"/> voxels (flat, i fastest) at the baseline.</summary>
    public double Score(ReadOnlySpan<bool> removed)
    {
        var perturbed = _image.ConvertTo(VoxelType.Float32);
        var perSlice = (int)perturbed.Geometry.Size.SliceVoxels;
        for (var k = 0; k < perturbed.Geometry.Size.K; k++)
        {
            var slice = perturbed.Slice<float>(k);
            var flags = removed.Slice(k * perSlice, perSlice);
            for (var v = 0; v < perSlice; v++)
            {
                if (flags[v])
                {
                    slice[v] = (float)_baseline;
                }
            }
        }

        return _pipeline.Score(perturbed, _class, _mask, _cancellationToken);
    }

    public void Dispose() => _engine.Dispose();
}
