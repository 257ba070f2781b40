using System.Text.Json;
using SegCam.Common.Tensors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests;

/// <summary>
/// Files written by other tools (tests/fixtures/volumes, made by make_volume_fixtures.py with nibabel and plastimatch)
/// and what they hold: geometry in LPS and voxel values after scaling.
/// </summary>
internal static class VolumeFixtures
{
    public static string Folder { get; } = Find();

    /// <summary>Full path of fixture <paramref name="name"/> (e.g. "oblique_int16.nrrd").</summary>
    public static string File(string name) => System.IO.Path.Combine(Folder, name);

    /// <summary>
    /// Asserts that <paramref name="volume"/> is what fixture <paramref name="name"/> holds: same size and voxel type,
    /// voxel values exactly equal, geometry within <paramref name="millimetres"/> (files store float32 geometry).
    /// </summary>
    public static void AssertMatches(Volume volume, string name, double millimetres = 1e-4)
    {
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(File(name) + ".expected.json"));
        var root = doc.RootElement;
        var size = root.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(new GridSize(size[0], size[1], size[2]), volume.Geometry.Size);
        Assert.Equal(root.GetProperty("voxel_type").GetString(), volume.Type.ToString());
        var spacing = Vector(root.GetProperty("spacing"));
        var origin = Vector(root.GetProperty("origin_lps"));
        var columns = root.GetProperty("direction_lps_columns").EnumerateArray().Select(Vector).ToArray();
        var expected = new VolumeGeometry(volume.Geometry.Size, spacing, origin, new Direction3(columns[0], columns[1], columns[2]));
        for (var corner = 0; corner < 8; corner++)
        {
            double i = (corner & 1) * (size[0] - 1), j = ((corner >> 1) & 1) * (size[1] - 1), k = ((corner >> 2) & 1) * (size[2] - 1);
            var distance = (expected.IndexToPhysical(i, j, k) - volume.Geometry.IndexToPhysical(i, j, k)).Length;
            Assert.True(distance <= millimetres, $"{name}: corner ({i},{j},{k}) is {distance:E2} mm away; expected {expected}, got {volume.Geometry}");
        }

        var voxels = NpyFile.Read(File(name) + ".voxels.npy").ToFloat64();
        var perSlice = (int)volume.Geometry.Size.SliceVoxels;
        var slice = new double[perSlice];
        for (var k = 0; k < size[2]; k++)
        {
            volume.CopySlice(k, slice);
            for (var v = 0; v < perSlice; v++)
            {
                Assert.Equal(voxels[(k * perSlice) + v], slice[v]);
            }
        }
    }

    private static Vector3 Vector(JsonElement e)
    {
        var v = e.EnumerateArray().Select(x => x.GetDouble()).ToArray();
        return new Vector3(v[0], v[1], v[2]);
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "tests", "fixtures", "volumes");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/volumes not found");
    }
}
