using SegCam.Cam;
using SegCam.Cam.Execution;
using SegCam.Cam.Methods;
using SegCam.Cam.Models;
using SegCam.Cam.PixelSets;
using SegCam.Common.Errors;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;

namespace SegCam.Pipelines.Tests;

/// <summary>The 3-D sliding-window pipeline on the fixture 3-D U-Net (input 16×20×24 = D×H×W, 2 classes).</summary>
public sealed class SlidingWindowCamPipelineTests : IDisposable
{
    private static readonly SegmentationModel UNet3d = SegmentationModel.Load(Path.Combine(SliceWiseCamPipelineTests.Fixtures, "models", "unet3d_in.onnx"));
    private static readonly ModelCard Card = new() { Id = "unet3d", Dimensionality = 3, InputSize = [16, 20, 24], Classes = ["background", "organ"] };
    private readonly CamEngine _engine = new();

    public void Dispose() => _engine.Dispose();

    private static Volume Image(int i, int j, int k)
    {
        var v = new Volume(new VolumeGeometry(new GridSize(i, j, k), new Vector3(1.5, 1.5, 2), new Vector3(3, -4, 5), Direction3.Identity), VoxelType.Float32);
        for (var z = 0; z < k; z++)
        {
            var s = v.Slice<float>(z);
            for (var y = 0; y < j; y++)
            {
                for (var x = 0; x < i; x++)
                {
                    s[(y * i) + x] = (float)(Math.Sin((x * 0.4) + (z * 0.3)) + Math.Cos(y * 0.5) + (((x - (i / 2.0)) * (x - (i / 2.0))) + ((y - (j / 2.0)) * (y - (j / 2.0))) < 30 ? 1.5 : 0));
                }
            }
        }

        return v;
    }

    private static readonly CamMethod[] Methods = [CamMethod.SegHiResGradCam, CamMethod.SegGradCam];

    [Fact]
    public void One_patch_volume_equals_the_direct_engine_result()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(24, 20, 16);
        var box = VolumePixelSet.Box((6, 5, 4), (15, 14, 10));
        var result = new SlidingWindowCamPipeline(_engine, UNet3d, Card).Run(image, new VolumeCamRequest { Class = 1, PixelSet = box, Methods = Methods }, cancellationToken: ct);
        Assert.Equal(1, result.SlicesComputed);
        var direct = _engine.Compute(UNet3d, new CamRequest
        {
            Input = Flat(image),
            InputShape = [1, 1, 16, 20, 24],
            Class = 1,
            PixelSet = PixelSet.Box([4, 5, 6], [10, 14, 15]),
            Options = new CamOptions { Methods = Methods, Resolution = CamResolution.Input },
        }, ct);
        foreach (var method in Methods)
        {
            SliceWiseCamPipelineTests.AssertClose(direct.Maps[method], Flat(result.Heatmaps[method]), method.Id());
        }
    }

    [Fact]
    public void Activation_resolution_spreads_the_layers_grid_over_the_patch_as_blocks()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(24, 20, 16);
        var result = new SlidingWindowCamPipeline(_engine, UNet3d, Card).Run(image, new VolumeCamRequest
        {
            Class = 1,
            PixelSet = VolumePixelSet.Box((6, 5, 4), (15, 14, 10)),
            Methods = [CamMethod.SegGradCam],
            Resolution = CamResolution.Activation,
        }, cancellationToken: ct);
        var direct = _engine.Compute(UNet3d, new CamRequest
        {
            Input = Flat(image),
            InputShape = [1, 1, 16, 20, 24],
            Class = 1,
            PixelSet = PixelSet.Box([4, 5, 6], [10, 14, 15]),
            Options = new CamOptions { Methods = [CamMethod.SegGradCam], Resolution = CamResolution.Activation },
        }, ct);
        var s = direct.MapShape;
        Assert.True(s[1] < 16 && s[2] < 20 && s[3] < 24, "the target layer's grid is coarser than the patch");
        var blocks = new float[16 * 20 * 24];
        Slicing.PlaneResampler.Nearest3D(direct.Maps[CamMethod.SegGradCam], (int)s[1], (int)s[2], (int)s[3], blocks, 16, 20, 24);
        SliceWiseCamPipelineTests.AssertClose(blocks, Flat(result.Heatmaps[CamMethod.SegGradCam]), "activation-grid blocks");
    }

    [Fact]
    public void Several_layers_from_the_same_runs_equal_each_layer_explained_alone()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(36, 28, 22);
        var pipeline = new SlidingWindowCamPipeline(_engine, UNet3d, Card);
        var request = new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Box((2, 3, 1), (30, 20, 15)), Methods = Methods, BatchSize = 2 };
        string[] layers = ["bottleneck", "encoder level 1"];
        var together = pipeline.Run(image, request with { Layers = layers }, cancellationToken: ct);
        Assert.Equal(2, together.ByLayer.Count);
        for (var l = 0; l < layers.Length; l++)
        {
            var alone = pipeline.Run(image, request with { Layer = layers[l] }, cancellationToken: ct);
            Assert.Equal(alone.Layer, together.ByLayer[l].Layer);
            foreach (var method in Methods)
            {
                SliceWiseCamPipelineTests.AssertClose(Flat(alone.Heatmaps[method]), Flat(together.ByLayer[l].Heatmaps[method]), $"{layers[l]} {method.Id()}");
            }
        }

        Assert.Same(together.ByLayer[0].Heatmaps, together.Heatmaps);
    }

    [Fact]
    public void Overlapping_patches_blend_with_gaussian_weights_and_skipping_changes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(36, 28, 22); // 2 patches along every axis at 50 % overlap
        var box = VolumePixelSet.Box((2, 3, 1), (10, 7, 5)); // inside the first patch only
        var pipeline = new SlidingWindowCamPipeline(_engine, UNet3d, Card);
        var request = new VolumeCamRequest { Class = 1, PixelSet = box, Methods = [CamMethod.SegHiResGradCam], BatchSize = 2 };
        var skipped = pipeline.Run(image, request, cancellationToken: ct);
        var all = pipeline.Run(image, request with { SkipEmptySlices = false }, cancellationToken: ct);
        Assert.Equal(8, all.SlicesComputed);
        Assert.Equal(1, skipped.SlicesComputed);
        SliceWiseCamPipelineTests.AssertClose(Flat(all.Heatmaps[CamMethod.SegHiResGradCam]), Flat(skipped.Heatmaps[CamMethod.SegHiResGradCam]), "skip vs all");

        // Independent blend: every patch's CAM from the engine, weighted by exp(−(t − c)²/2σ²), σ = P/8, per axis.
        int[] zs = [0, 6], ys = [0, 8], xs = [0, 12];
        var sum = new double[22 * 28 * 36];
        var weight = new double[sum.Length];
        var input = Flat(image);
        foreach (var z0 in zs)
        {
            foreach (var y0 in ys)
            {
                foreach (var x0 in xs)
                {
                    var patch = new float[16 * 20 * 24];
                    var mask = new bool[patch.Length];
                    for (var d = 0; d < 16; d++)
                    {
                        for (var h = 0; h < 20; h++)
                        {
                            for (var w = 0; w < 24; w++)
                            {
                                int z = z0 + d, y = y0 + h, x = x0 + w;
                                patch[(((d * 20) + h) * 24) + w] = input[(((z * 28) + y) * 36) + x];
                                mask[(((d * 20) + h) * 24) + w] = x >= 2 && x < 10 && y >= 3 && y < 7 && z >= 1 && z < 5;
                            }
                        }
                    }

                    var cam = mask.Any(b => b)
                        ? _engine.Compute(UNet3d, new CamRequest { Input = patch, InputShape = [1, 1, 16, 20, 24], Class = 1, PixelSet = PixelSet.FromMask(mask, [16, 20, 24]), Options = new CamOptions { Resolution = CamResolution.Input } }, ct).Maps[CamMethod.SegHiResGradCam]
                        : new float[patch.Length];
                    for (var d = 0; d < 16; d++)
                    {
                        for (var h = 0; h < 20; h++)
                        {
                            for (var w = 0; w < 24; w++)
                            {
                                var g = G(d, 16) * G(h, 20) * G(w, 24);
                                var at = ((((z0 + d) * 28) + y0 + h) * 36) + x0 + w;
                                sum[at] += g * cam[(((d * 20) + h) * 24) + w];
                                weight[at] += g;
                            }
                        }
                    }
                }
            }
        }

        SliceWiseCamPipelineTests.AssertClose(sum.Select((s, i) => (float)(s / weight[i])).ToArray(), Flat(all.Heatmaps[CamMethod.SegHiResGradCam]), "independent blend");
    }

    private static double G(int t, int extent)
    {
        var sigma = extent / 8.0;
        var c = (extent - 1) / 2.0;
        return Math.Max(1e-3, Math.Exp(-((t - c) * (t - c)) / (2 * sigma * sigma)));
    }

    [Fact]
    public void Predicted_set_and_segmentation_match_whole_volume_inference_for_one_patch()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(24, 20, 16);
        var pipeline = new SlidingWindowCamPipeline(_engine, UNet3d, Card);
        var seg = pipeline.Segment(image, cancellationToken: ct);
        var logits = _engine.Infer(UNet3d, Flat(image), [1, 1, 16, 20, 24], out _, ct);
        var voxels = 16 * 20 * 24;
        var flat = Flat(seg);
        for (var v = 0; v < voxels; v++)
        {
            Assert.Equal(logits[voxels + v] > logits[v] ? 1f : 0f, flat[v]);
        }

        var result = pipeline.Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Predicted() }, cancellationToken: ct);
        Assert.True(result.Segmentation!.ContentEquals(seg));
    }

    [Fact]
    public void Volume_smaller_than_a_patch_is_padded_and_cropped()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(30, 12, 10);
        var result = new SlidingWindowCamPipeline(_engine, UNet3d, Card).Run(image, new VolumeCamRequest { Class = 1, PixelSet = VolumePixelSet.Points([(5, 5, 5)]) }, cancellationToken: ct);
        Assert.Equal(image.Geometry, result.Heatmaps[CamMethod.SegHiResGradCam].Geometry);
        Assert.Contains(Flat(result.Heatmaps[CamMethod.SegHiResGradCam]), v => v != 0);
    }

    [Fact]
    public void Score_of_one_patch_is_the_class_logit_summed_over_the_pixel_set()
    {
        var ct = TestContext.Current.CancellationToken;
        var image = Image(24, 20, 16);
        var score = new SlidingWindowCamPipeline(_engine, UNet3d, Card).Score(image, 1, VolumePixelSet.Box((6, 5, 4), (15, 14, 10)), ct);
        var logits = _engine.Infer(UNet3d, Flat(image), [1, 1, 16, 20, 24], out _, ct);
        var expected = 0.0;
        for (var z = 4; z < 10; z++)
        {
            for (var y = 5; y < 14; y++)
            {
                for (var x = 6; x < 15; x++)
                {
                    expected += logits[(16 * 20 * 24) + (((z * 20) + y) * 24) + x];
                }
            }
        }

        Assert.Equal(expected, score, 2);
    }

    [Fact]
    public void Two_d_card_or_bad_overlap_is_refused()
    {
        Assert.Throws<InvalidRequestException>(() => new SlidingWindowCamPipeline(_engine, UNet3d, Card with { Dimensionality = 2, InputSize = [20, 24] }));
        Assert.Throws<InvalidRequestException>(() => new SlidingWindowCamPipeline(_engine, UNet3d, Card, overlap: 0.95));
    }

    private static float[] Flat(Volume v)
    {
        var size = v.Geometry.Size;
        var result = new float[size.Voxels];
        var scratch = new double[size.SliceVoxels];
        for (var k = 0; k < size.K; k++)
        {
            v.CopySlice(k, scratch);
            for (var p = 0; p < scratch.Length; p++)
            {
                result[(k * scratch.Length) + p] = (float)scratch[p];
            }
        }

        return result;
    }
}
