using SegCam.Cam.Execution;
using SegCam.Cam.Models;
using SegCam.Cam;
using SegCam.Volumes;
using SegCam.Volumes.Geometry;
using SegCam.Volumes.Phantoms;

namespace SegCam.Server.IntegrationTests.Infrastructure;

/// <summary>Test volumes and the in-process reference the server must reproduce.</summary>
public static class TestVolumes
{
    /// <summary>A small CT-like float32 volume (a bright blob in soft tissue), oblique-free, anisotropic, off origin.</summary>
    public static Volume Ct(int i, int j, int k, int seed)
    {
        var random = new Random(seed);
        var geometry = new VolumeGeometry(new GridSize(i, j, k), new Vector3(1.5, 1.2, 3), new Vector3(-40, 12.5, 7), Direction3.Identity);
        var volume = new Volume(geometry, VoxelType.Float32);
        var (ci, cj, r) = (random.Next(i / 4, 3 * i / 4), random.Next(j / 4, 3 * j / 4), Math.Max(3, Math.Min(i, j) / 6));
        for (var z = 0; z < k; z++)
        {
            var slice = volume.Slice<float>(z);
            for (var y = 0; y < j; y++)
            {
                for (var x = 0; x < i; x++)
                {
                    var d = Math.Sqrt(((x - ci) * (x - ci)) + ((y - cj) * (y - cj)));
                    slice[(y * i) + x] = (float)((d < r ? 180 : 40) + (random.NextDouble() * 30));
                }
            }
        }

        return volume;
    }

    /// <summary>The demo phantom (kidneys and a tumour) and its labels.</summary>
    public static (Volume Ct, Volume Labels) Phantom(int seed, int slices = 48, int side = 128)
        => AbdominalPhantom.Generate(new PhantomOptions { Size = new GridSize(side, side, slices), Spacing = new Vector3(320.0 / side, 320.0 / side, 3) }, seed);

    /// <summary>The model and card of a demo model id.</summary>
    public static (SegmentationModel Model, ModelCard Card) Model(string id)
    {
        var path = Path.Combine(Repo.Models, id + ".onnx");
        return (SegmentationModel.Load(path), ModelCard.FindFor(path)!);
    }

    /// <summary>True when two volumes hold the same bytes.</summary>
    public static bool Same(Volume a, Volume b) => a.Geometry.SameGrid(b.Geometry, 0) && a.ContentEquals(b);

    public static CamEngine Engine() => new(ExecutionDevice.Cpu);
}
