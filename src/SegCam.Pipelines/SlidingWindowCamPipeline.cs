using System.Diagnostics;
using SegCam.Cam;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Cam.Models;
using SegCam.Cam.PixelSets;
using SegCam.Common.Errors;
using SegCam.Pipelines.Slicing;
using SegCam.Volumes;

namespace SegCam.Pipelines;

/// <summary>
/// Volumetric CAMs and segmentation with a 3-D model. The volume (model axes D, H, W = the image's k, j, i) is cut
/// into patches of the model's input size that overlap by <see cref="Overlap"/> (the whole volume is one patch when
/// the model takes any size), and patch results are blended with a Gaussian importance map w (σ = patch/8 per axis,
/// as nnU-Net does): logits and CAMs alike become Σ_p w_p·x_p / Σ_p w_p over the patches p covering a voxel. A patch's
/// CAM explains the class score summed over the pixel set inside that patch; a patch without pixel-set voxels has an
/// all-zero CAM and is skipped, but its weight still counts, so skipping never changes a result. Patches at the
/// volume border are zero-padded model input (and cropped after). The volume is fed at its own spacing.
/// </summary>
public sealed class SlidingWindowCamPipeline : IVolumePipeline
{
    private readonly CamEngine _engine;
    private readonly SegmentationModel _model;
    private readonly ModelCard _card;

    /// <summary>Checks that <paramref name="card"/> describes a one-channel 3-D model and matches <paramref name="model"/>.</summary>
    public SlidingWindowCamPipeline(CamEngine engine, SegmentationModel model, ModelCard card, double overlap = 0.5)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(card);
        if (card.Dimensionality != 3 || card.Channels != 1)
        {
            throw new InvalidRequestException($"model '{card.Id}' is {card.Dimensionality}-D with {card.Channels} channel(s); the sliding-window pipeline runs one-channel 3-D models");
        }

        if (overlap is < 0 or > 0.9)
        {
            throw new InvalidRequestException($"patch overlap {overlap} is out of range; allowed: 0..0.9");
        }

        ModelCardValidator.Validate(card, model);
        _engine = engine;
        _model = model;
        _card = card;
        Overlap = overlap;
    }

    /// <summary>Fraction by which neighbouring patches overlap along each axis.</summary>
    public double Overlap { get; }

    /// <summary>Explains <paramref name="request"/>.Class over <paramref name="image"/>.</summary>
    public VolumeCamResult Run(Volume image, VolumeCamRequest request, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(request);
        request.Validate(_card.Classes.Count);
        request.PixelSet.Validate(image.Geometry);
        if (request.Slices is not null)
        {
            throw new InvalidRequestException($"a slice range applies to 2-D models; model '{_card.Id}' is 3-D and explains the whole volume");
        }

        var clock = Stopwatch.StartNew();
        var grid = PatchGrid.For(image.Geometry.Size, PatchSize(image), Overlap);
        var input = Preprocess(image);
        Volume? segmentation = null;
        bool[][] mask;
        if (request.PixelSet.IsPredicted)
        {
            segmentation = Segment(image, grid, input, request.BatchSize, progress, clock, cancellationToken);
            mask = MaskOf(segmentation, request.Class);
        }
        else
        {
            var plane = SlicePlane.Of(image.Geometry.Size, 2);
            mask = new bool[image.Geometry.Size.K][];
            for (var k = 0; k < mask.Length; k++)
            {
                mask[k] = new bool[plane.Pixels];
                request.PixelSet.Fill(plane, image.Geometry.Size, k, mask[k]);
            }
        }

        var patches = grid.Patches().Where(p => !request.SkipEmptySlices || grid.Any(mask, p)).ToArray();
        var heatmaps = request.LayerNames.Select(_ => request.Methods.ToDictionary(m => m, _ => new Volume(image.Geometry, VoxelType.Float32))).ToArray();
        var options = request.EngineOptions();
        var batch = Math.Min(request.BatchSize, Math.Max(1, patches.Length));
        long[] shape = [batch, 1, grid.Patch.D, grid.Patch.H, grid.Patch.W];
        var layers = request.LayerNames.Select(l => Cam.Layers.LayerCatalog.Resolve(_model, shape, l ?? _card.DefaultLayer)).ToArray();
        var voxels = grid.Patch.Voxels;
        var x = new float[batch * voxels];
        var m = new bool[batch * voxels];
        var blocks = request.Resolution == CamResolution.Activation ? new float[voxels] : [];
        for (var start = 0; start < patches.Length; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = patches.AsSpan(start, Math.Min(batch, patches.Length - start)).ToArray();
            Array.Clear(x);
            Array.Clear(m);
            for (var n = 0; n < chunk.Length; n++)
            {
                grid.Extract(input, chunk[n], x.AsSpan(n * voxels, voxels));
                grid.Extract(mask, chunk[n], m.AsSpan(n * voxels, voxels));
            }

            using var result = _engine.Compute(_model, new CamRequest
            {
                Input = x,
                InputShape = shape,
                Class = request.Class,
                PixelSet = PixelSet.FromMask(m, [batch, grid.Patch.D, grid.Patch.H, grid.Patch.W]),
                Layers = layers,
                Options = options,
            }, cancellationToken);
            for (var l = 0; l < layers.Length; l++)
            {
                // Activation resolution: the layer's [d', h', w'] map, spread over the patch as blocks before blending.
                var s = result.Layers[l].MapShape;
                var mapVoxels = (int)(s[1] * s[2] * s[3]);
                foreach (var (method, map) in result.Layers[l].Maps)
                {
                    for (var n = 0; n < chunk.Length; n++)
                    {
                        var item = map.AsSpan(n * mapVoxels, mapVoxels);
                        if (request.Resolution == CamResolution.Activation)
                        {
                            PlaneResampler.Nearest3D(item, (int)s[1], (int)s[2], (int)s[3], blocks, grid.Patch.D, grid.Patch.H, grid.Patch.W);
                            item = blocks;
                        }

                        grid.AccumulateWeighted(item, chunk[n], heatmaps[l][method]);
                    }
                }
            }

            ProgressReports.Report(progress, "explain", start + chunk.Length, patches.Length, clock);
            // Keep the peak O(batch). Measured (bench-volume, demo-unet3d, 160×160×96, 80 patches, 2-core VM): a collection
            // every batch, every 4 batches or never took 5.4–5.6 s alike, with peaks of 661, 662 and 670 MiB.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        }

        foreach (var heatmap in heatmaps.SelectMany(h => h.Values))
        {
            grid.DivideByWeights(heatmap);
        }

        HeatmapNormalization.Apply(heatmaps.SelectMany(h => h.Values), request, SlicePlane.Of(image.Geometry.Size, 2), Enumerable.Range(0, image.Geometry.Size.K));
        return new VolumeCamResult
        {
            ByLayer = layers.Select((l, i) => new LayerHeatmaps(l, heatmaps[i])).ToArray(),
            Heatmaps = heatmaps[0],
            Segmentation = segmentation,
            SlicesComputed = patches.Length,
            SlicesSkipped = grid.Count - patches.Length,
            PixelSetVoxels = mask.Sum(slice => (long)slice.AsSpan().Count(true)),
            Layer = layers[0],
            Elapsed = clock.Elapsed,
        };
    }

    /// <summary>The model's label map of <paramref name="image"/> from Gaussian-blended patch logits.</summary>
    public Volume Segment(Volume image, int batchSize = 2, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        var grid = PatchGrid.For(image.Geometry.Size, PatchSize(image), Overlap);
        return Segment(image, grid, Preprocess(image), batchSize, progress, Stopwatch.StartNew(), cancellationToken);
    }

    /// <inheritdoc />
    public double Score(Volume image, int classIndex, VolumePixelSet pixelSet, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(pixelSet);
        if (pixelSet.IsPredicted)
        {
            throw new InvalidRequestException("the score needs an explicit pixel set (a label, box or points), not the prediction");
        }

        pixelSet.Validate(image.Geometry);
        var grid = PatchGrid.For(image.Geometry.Size, PatchSize(image), Overlap);
        var sums = WeightedLogits(image, grid, Preprocess(image), 2, null, Stopwatch.StartNew(), cancellationToken);
        if (classIndex < 0 || classIndex >= sums.Length)
        {
            throw new InvalidRequestException($"class {classIndex} is out of range; the model has {sums.Length} classes");
        }

        var logits = sums[classIndex];
        grid.DivideByWeights(logits);
        var plane = SlicePlane.Of(image.Geometry.Size, 2);
        var mask = new bool[plane.Pixels];
        var total = 0.0;
        for (var k = 0; k < image.Geometry.Size.K; k++)
        {
            if (pixelSet.Fill(plane, image.Geometry.Size, k, mask))
            {
                var slice = logits.Slice<float>(k);
                for (var v = 0; v < mask.Length; v++)
                {
                    total += mask[v] ? slice[v] : 0;
                }
            }
        }

        return total;
    }

    private PatchSize PatchSize(Volume image)
    {
        if (_card.InputSize is { } size)
        {
            return new PatchSize(size[0], size[1], size[2]);
        }

        int Up(int n) => (n + _card.SizeMultiple - 1) / _card.SizeMultiple * _card.SizeMultiple;
        var s = image.Geometry.Size;
        return new PatchSize(Up(s.K), Up(s.J), Up(s.I));
    }

    // The model input of every voxel (card preprocessing applied), one k-slice per array.
    private float[][] Preprocess(Volume image)
    {
        var size = image.Geometry.Size;
        var plane = SlicePlane.Of(size, 2);
        var scratch = new double[size.SliceVoxels];
        var slices = new float[size.K][];
        for (var k = 0; k < size.K; k++)
        {
            slices[k] = new float[plane.Pixels];
            plane.Extract(image, k, slices[k], scratch);
            _card.Preprocessing.Apply(slices[k]);
        }

        return slices;
    }

    private static bool[][] MaskOf(Volume labels, int value)
    {
        var mask = new bool[labels.Geometry.Size.K][];
        for (var k = 0; k < mask.Length; k++)
        {
            var slice = labels.Slice<byte>(k);
            mask[k] = new bool[slice.Length];
            for (var v = 0; v < slice.Length; v++)
            {
                mask[k][v] = slice[v] == value;
            }
        }

        return mask;
    }

    // Σ_p w_p · logits_p per class (not yet divided by Σ w).
    private Volume[] WeightedLogits(Volume image, PatchGrid grid, float[][] input, int batchSize, IProgress<PipelineProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        var patches = grid.Patches().ToArray();
        var batch = Math.Clamp(batchSize, 1, Math.Max(1, patches.Length));
        var voxels = grid.Patch.Voxels;
        var x = new float[batch * voxels];
        Volume[]? sums = null;
        for (var start = 0; start < patches.Length; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = patches.AsSpan(start, Math.Min(batch, patches.Length - start)).ToArray();
            Array.Clear(x);
            for (var n = 0; n < chunk.Length; n++)
            {
                grid.Extract(input, chunk[n], x.AsSpan(n * voxels, voxels));
            }

            var logits = _engine.Infer(_model, x, [batch, 1, grid.Patch.D, grid.Patch.H, grid.Patch.W], out var shape, cancellationToken);
            var classes = (int)shape[1];
            sums ??= Enumerable.Range(0, classes).Select(_ => new Volume(image.Geometry, VoxelType.Float32)).ToArray();
            for (var n = 0; n < chunk.Length; n++)
            {
                for (var c = 0; c < classes; c++)
                {
                    grid.AccumulateWeighted(logits.AsSpan(((n * classes) + c) * voxels, voxels), chunk[n], sums[c]);
                }
            }

            ProgressReports.Report(progress, "segment", start + chunk.Length, patches.Length, clock);
        }

        return sums!;
    }

    private Volume Segment(Volume image, PatchGrid grid, float[][] input, int batchSize, IProgress<PipelineProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        var size = image.Geometry.Size;
        var sums = WeightedLogits(image, grid, input, batchSize, progress, clock, cancellationToken);
        // Argmax of the blended logits (dividing by Σw does not change it).
        var labels = new Volume(image.Geometry, VoxelType.UInt8);
        var rows = new float[sums.Length][];
        for (var k = 0; k < size.K; k++)
        {
            var target = labels.Slice<byte>(k);
            for (var c = 0; c < sums.Length; c++)
            {
                rows[c] = sums[c].Slice<float>(k).ToArray();
            }

            for (var v = 0; v < target.Length; v++)
            {
                var best = 0;
                for (var c = 1; c < rows.Length; c++)
                {
                    if (rows[c][v] > rows[best][v])
                    {
                        best = c;
                    }
                }

                target[v] = (byte)best;
            }
        }

        return labels;
    }
}
