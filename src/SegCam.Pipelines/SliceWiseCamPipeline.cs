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
/// Volumetric CAMs with a 2-D model, as in the paper's KiTS23 experiments: the volume is cut along the model's slice
/// axis, each slice is preprocessed (model card) and resampled to the model grid (bilinear), slices are explained in
/// batches (the last batch padded so one compiled session serves every batch), and each map is resampled back
/// (bilinear) into a heatmap volume on the image's grid. Slices whose pixel set is empty are skipped (their heatmap is
/// exactly zero). Memory beyond the input and output volumes is O(batch).
/// </summary>
public sealed class SliceWiseCamPipeline : IVolumePipeline
{
    private readonly CamEngine _engine;
    private readonly SegmentationModel _model;
    private readonly ModelCard _card;

    /// <summary>Checks that <paramref name="card"/> describes a one-channel 2-D model and matches <paramref name="model"/>.</summary>
    public SliceWiseCamPipeline(CamEngine engine, SegmentationModel model, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(card);
        if (card.Dimensionality != 2)
        {
            throw new InvalidRequestException($"model '{card.Id}' is {card.Dimensionality}-D; the slice-wise pipeline runs 2-D models");
        }

        if (card.Channels != 1)
        {
            throw new InvalidRequestException($"model '{card.Id}' takes {card.Channels} channels; the slice-wise pipeline feeds one image channel");
        }

        ModelCardValidator.Validate(card, model);
        _engine = engine;
        _model = model;
        _card = card;
    }

    /// <summary>Explains <paramref name="request"/>.Class over <paramref name="image"/>.</summary>
    public VolumeCamResult Run(Volume image, VolumeCamRequest request, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(request);
        request.Validate(_card.Classes.Count);
        request.PixelSet.Validate(image.Geometry);
        var clock = Stopwatch.StartNew();
        var size = image.Geometry.Size;
        var axis = SliceAxes.IndexAxis(image.Geometry, request.Axis ?? SliceAxes.Parse(_card.SliceAxis));
        var plane = SlicePlane.Of(size, axis);
        var (height, width) = ModelGrid(plane);
        var slices = size[axis];
        var batch = Math.Min(request.BatchSize, slices);
        var predicted = request.PixelSet.IsPredicted;

        var first = request.Slices?.First ?? 0;
        var end = request.Slices?.EndWithin(slices) ?? slices;
        Volume? segmentation = null;
        var wanted = new bool[slices];
        long pixelSetVoxels = 0;
        if (predicted)
        {
            segmentation = new Volume(image.Geometry, VoxelType.UInt8);
            pixelSetVoxels = Segment(image, plane, height, width, batch, request.Class, segmentation, wanted, first, end, progress, clock, cancellationToken);
            if (!request.SkipEmptySlices)
            {
                wanted.AsSpan(first, end - first).Fill(true);
            }
        }
        else
        {
            var scratch = new bool[plane.Pixels];
            for (var s = first; s < end; s++)
            {
                var any = request.PixelSet.Fill(plane, size, s, scratch);
                pixelSetVoxels += any ? scratch.AsSpan(0, plane.Pixels).Count(true) : 0;
                wanted[s] = any || !request.SkipEmptySlices;
            }
        }

        var todo = Enumerable.Range(0, slices).Where(s => wanted[s]).ToArray();
        var heatmaps = request.LayerNames.Select(_ => request.Methods.ToDictionary(m => m, _ => new Volume(image.Geometry, VoxelType.Float32))).ToArray();
        var layers = Explain(image, request, plane, height, width, batch, todo, predicted, heatmaps, progress, clock, cancellationToken);
        HeatmapNormalization.Apply(heatmaps.SelectMany(h => h.Values), request, plane, todo);
        return new VolumeCamResult
        {
            ByLayer = layers.Select((l, i) => new LayerHeatmaps(l, heatmaps[i])).ToArray(),
            Heatmaps = heatmaps[0],
            Segmentation = segmentation,
            SlicesComputed = todo.Length,
            SlicesSkipped = end - first - todo.Length,
            PixelSetVoxels = pixelSetVoxels,
            Layer = layers[0],
            Elapsed = clock.Elapsed,
        };
    }

    /// <summary>The model's label map (argmax per voxel) of <paramref name="image"/>, slice by slice, on the image's grid.</summary>
    public Volume Segment(Volume image, int batchSize = 8, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (batchSize is < 1 or > 256)
        {
            throw new InvalidRequestException($"batch size {batchSize} is out of range; allowed: 1..256");
        }

        var clock = Stopwatch.StartNew();
        var axis = SliceAxes.IndexAxis(image.Geometry, SliceAxes.Parse(_card.SliceAxis));
        var plane = SlicePlane.Of(image.Geometry.Size, axis);
        var (height, width) = ModelGrid(plane);
        var slices = image.Geometry.Size[axis];
        var segmentation = new Volume(image.Geometry, VoxelType.UInt8);
        Segment(image, plane, height, width, Math.Min(batchSize, slices), 0, segmentation, new bool[slices], 0, slices, progress, clock, cancellationToken);
        return segmentation;
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
        var axis = SliceAxes.IndexAxis(image.Geometry, SliceAxes.Parse(_card.SliceAxis));
        var plane = SlicePlane.Of(image.Geometry.Size, axis);
        var (height, width) = ModelGrid(plane);
        var pixels = height * width;
        var planeMask = new bool[plane.Pixels];
        var modelMask = new bool[pixels];
        var x = new float[pixels];
        var planeBuffer = new float[plane.Pixels];
        var scratch = new double[image.Geometry.Size.SliceVoxels];
        var total = 0.0;
        for (var s = 0; s < image.Geometry.Size[axis]; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!pixelSet.Fill(plane, image.Geometry.Size, s, planeMask))
            {
                continue;
            }

            PlaneResampler.Cover(planeMask, plane.Rows, plane.Columns, modelMask, height, width);
            Prepare(image, plane, height, width, [s], x, planeBuffer, scratch);
            var logits = _engine.Infer(_model, x, [1, 1, height, width], out var shape, cancellationToken);
            if (classIndex < 0 || classIndex >= shape[1])
            {
                throw new InvalidRequestException($"class {classIndex} is out of range; the model has {shape[1]} classes");
            }

            for (var p = 0; p < pixels; p++)
            {
                total += modelMask[p] ? logits[(classIndex * pixels) + p] : 0;
            }
        }

        return total;
    }

    private (int Height, int Width) ModelGrid(SlicePlane plane)
    {
        if (_card.InputSize is { } fixedSize)
        {
            return (fixedSize[0], fixedSize[1]);
        }

        int Up(int n) => (n + _card.SizeMultiple - 1) / _card.SizeMultiple * _card.SizeMultiple;
        return (Up(plane.Rows), Up(plane.Columns));
    }

    // Fills the model input for slices [from, from + count) into x (padding items stay zero).
    private void Prepare(Volume image, SlicePlane plane, int height, int width, ReadOnlySpan<int> indices, float[] x, float[] planeBuffer, double[] sliceScratch)
    {
        Array.Clear(x);
        var pixels = height * width;
        for (var n = 0; n < indices.Length; n++)
        {
            plane.Extract(image, indices[n], planeBuffer, sliceScratch);
            _card.Preprocessing.Apply(planeBuffer.AsSpan(0, plane.Pixels));
            PlaneResampler.Bilinear(planeBuffer, plane.Rows, plane.Columns, x.AsSpan(n * pixels, pixels), height, width);
        }
    }

    // Segments slices [first, end); marks in wanted the slices where class cls is predicted; returns its voxel count.
    private long Segment(Volume image, SlicePlane plane, int height, int width, int batch, int cls, Volume segmentation, bool[] wanted, int first, int end, IProgress<PipelineProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        long count = 0;
        var pixels = height * width;
        var x = new float[batch * pixels];
        var planeBuffer = new float[plane.Pixels];
        var scratch = new double[image.Geometry.Size.SliceVoxels];
        var labels = new byte[pixels];
        var back = new byte[plane.Pixels];
        for (var start = first; start < end; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = Enumerable.Range(start, Math.Min(batch, end - start)).ToArray();
            Prepare(image, plane, height, width, indices, x, planeBuffer, scratch);
            var logits = _engine.Infer(_model, x, [batch, 1, height, width], out var shape, cancellationToken);
            var classes = (int)shape[1];
            for (var n = 0; n < indices.Length; n++)
            {
                var offset = n * classes * pixels;
                for (var p = 0; p < pixels; p++)
                {
                    var best = 0;
                    for (var c = 1; c < classes; c++)
                    {
                        if (logits[offset + (c * pixels) + p] > logits[offset + (best * pixels) + p])
                        {
                            best = c;
                        }
                    }

                    labels[p] = (byte)best;
                    wanted[indices[n]] |= best == cls;
                }

                PlaneResampler.Nearest<byte>(labels, height, width, back, plane.Rows, plane.Columns);
                plane.Insert(segmentation, indices[n], back);
                count += back.AsSpan().Count((byte)cls);
            }

            ProgressReports.Report(progress, "segment", start + indices.Length - first, end - first, clock);
            CollectEvery(4, start / batch); // as in Explain: keep the peak O(batch)
        }

        return count;
    }

    private string[] Explain(Volume image, VolumeCamRequest request, SlicePlane plane, int height, int width, int batch, int[] todo, bool predicted, Dictionary<CamMethod, Volume>[] heatmaps, IProgress<PipelineProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        var size = image.Geometry.Size;
        var pixels = height * width;
        var x = new float[batch * pixels];
        var planeBuffer = new float[plane.Pixels];
        var scratch = new double[size.SliceVoxels];
        var planeMask = new bool[plane.Pixels];
        var back = new float[plane.Pixels];
        var options = request.EngineOptions();
        var layers = LayerResolution(request, height, width, batch);
        var final = layers.Select((l, i) => new LayerHeatmaps(l, heatmaps[i])).ToArray();
        for (var start = 0; start < todo.Length; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var indices = todo.AsSpan(start, Math.Min(batch, todo.Length - start)).ToArray();
            Prepare(image, plane, height, width, indices, x, planeBuffer, scratch);
            var mask = new bool[batch * pixels];
            for (var n = 0; n < indices.Length; n++)
            {
                if (predicted)
                {
                    mask.AsSpan(n * pixels, pixels).Fill(true);
                }
                else if (request.PixelSet.Fill(plane, size, indices[n], planeMask))
                {
                    PlaneResampler.Cover(planeMask, plane.Rows, plane.Columns, mask.AsSpan(n * pixels, pixels), height, width);
                }
            }

            var set = PixelSet.FromMask(mask, [batch, height, width]) with { WithinPredicted = predicted };
            using var result = _engine.Compute(_model, new CamRequest
            {
                Input = x,
                InputShape = [batch, 1, height, width],
                Class = request.Class,
                PixelSet = set,
                Layers = layers,
                Options = options,
            }, cancellationToken);
            for (var l = 0; l < layers.Length; l++)
            {
                // Input resolution: [batch, height, width]; activation resolution: the layer's own [batch, h', w'].
                var (mapRows, mapColumns) = ((int)result.Layers[l].MapShape[1], (int)result.Layers[l].MapShape[2]);
                var mapPixels = mapRows * mapColumns;
                foreach (var (method, map) in result.Layers[l].Maps)
                {
                    for (var n = 0; n < indices.Length; n++)
                    {
                        var item = map.AsSpan(n * mapPixels, mapPixels);
                        if (request.Resolution == CamResolution.Activation)
                        {
                            PlaneResampler.Nearest<float>(item, mapRows, mapColumns, back, plane.Rows, plane.Columns);
                        }
                        else
                        {
                            PlaneResampler.Bilinear(item, mapRows, mapColumns, back, plane.Rows, plane.Columns);
                        }

                        plane.Insert(heatmaps[l][method], indices[n], back);
                    }
                }
            }

            ProgressReports.Report(progress, "explain", start + indices.Length, todo.Length, clock);
            if (request.StreamsSlices(2, plane.Axis))
            {
                var next = start + batch < todo.Length ? todo[start + batch] : size.K;
                request.FinalSlices?.Report(new FinalSlices(next, final));
            }

            // Each batch leaves a few large arrays (inference outputs, masks) on the large-object heap, which only a full
            // collection frees; collecting every few batches keeps the peak at O(batch) instead of growing with the
            // slice count (the CAM outputs themselves are recycled: the result is disposed above).
            CollectEvery(4, start / batch);
        }

        return layers;
    }

    private static void CollectEvery(int batches, int index)
    {
        if (index % batches == batches - 1)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        }
    }

    private string[] LayerResolution(VolumeCamRequest request, int height, int width, int batch)
        => request.LayerNames.Select(l => Cam.Layers.LayerCatalog.Resolve(_model, [batch, 1, height, width], l ?? _card.DefaultLayer)).ToArray();


}
