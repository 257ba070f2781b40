using System.Text.Json;
using SegCam.Common.Tensors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Dicom.Tests;

/// <summary>
/// tests/fixtures/dicom (made by make_dicom_fixtures.py with pydicom) and pydicom's installed test files: where
/// they are, what they hold, and the skips when GDCM or pydicom is missing.
/// </summary>
internal static class DicomFixtures
{
    /// <summary>Where Debian's python3-pydicom installs its test files.</summary>
    public const string PydicomTestFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    public static string Folder { get; } = Find();

    /// <summary>Full path of fixture <paramref name="name"/> (a series folder or an extras file).</summary>
    public static string Path(string name) => System.IO.Path.Combine(Folder, name);

    /// <summary>Skips the calling test when GDCM's C# binding is not there.</summary>
    public static void RequireGdcm()
    {
        if (!DicomSeriesFormat.IsAvailable)
        {
            Assert.Skip("libgdcm-cil not installed (apt-get install libgdcm-cil)");
        }
    }

    /// <summary>Path of pydicom's test file <paramref name="name"/>; skips the calling test when pydicom is not installed.</summary>
    public static string PydicomFile(string name)
    {
        var path = System.IO.Path.Combine(PydicomTestFiles, name);
        if (!File.Exists(path))
        {
            Assert.Skip("pydicom test files not installed: apt-get install python3-pydicom");
        }

        return path;
    }

    /// <summary>
    /// Asserts that <paramref name="volume"/> is what expectation <paramref name="name"/> says: size, voxel type,
    /// every corner of the grid within <paramref name="millimetres"/>, every voxel exactly equal.
    /// </summary>
    public static void AssertMatches(Volume volume, string name, double millimetres = 1e-6)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(name + ".expected.json")));
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

        Assert.Equal(spacing.Z, volume.Geometry.Spacing.Z, 6);

        var voxels = NpyFile.Read(Path(name + ".voxels.npy"));
        Assert.Equal([size[2], size[1], size[0]], voxels.Shape);
        var values = voxels.ToFloat64();
        var perSlice = (int)volume.Geometry.Size.SliceVoxels;
        var slice = new double[perSlice];
        for (var k = 0; k < size[2]; k++)
        {
            volume.CopySlice(k, slice);
            for (var v = 0; v < perSlice; v++)
            {
                if (values[(k * perSlice) + v] != slice[v])
                {
                    Assert.Fail($"{name}: voxel (i {v % size[0]}, j {v / size[0]}, k {k}) is {slice[v]}, expected {values[(k * perSlice) + v]}");
                }
            }
        }
    }

    /// <summary>The file names of expectation <paramref name="name"/> in k order.</summary>
    public static IReadOnlyList<string> Files(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(name + ".expected.json")));
        return doc.RootElement.GetProperty("files").EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>The SeriesInstanceUID of expectation <paramref name="name"/>.</summary>
    public static string SeriesUid(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(name + ".expected.json")));
        return doc.RootElement.GetProperty("series_instance_uid").GetString()!;
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
            var candidate = System.IO.Path.Combine(dir.FullName, "tests", "fixtures", "dicom");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/dicom not found");
    }
}
