using SegCam.Common.Errors;
using SegCam.Volumes.Formats;
using SegCam.Volumes.Formats.MetaImage;
using SegCam.Volumes.Formats.Nifti;
using SegCam.Volumes.Formats.Npy;
using SegCam.Volumes.Formats.Nrrd;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests.Formats;

public sealed class VolumeFileTests
{
    [Theory]
    [InlineData("ct.nii.gz", typeof(NiftiFormat))]
    [InlineData("CT.NII", typeof(NiftiFormat))]
    [InlineData("seg.seg.nrrd", typeof(NrrdFormat))]
    [InlineData("x.nhdr", typeof(NrrdFormat))]
    [InlineData("x.mha", typeof(MetaImageFormat))]
    [InlineData("x.mhd", typeof(MetaImageFormat))]
    [InlineData("x.npy", typeof(NpyVolumeFormat))]
    public void Format_follows_the_file_name_ending(string name, Type format)
        => Assert.IsType(format, VolumeFile.FormatOf(name));

    [Fact]
    public void Unknown_ending_lists_the_allowed_ones()
    {
        var ex = Assert.Throws<VolumeFormatException>(() => VolumeFile.FormatOf("scan.png"));
        Assert.Contains(".nii.gz", ex.Message, StringComparison.Ordinal);
        Assert.Contains(".nrrd", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_file_is_not_found()
        => Assert.Throws<InputFileNotFoundException>(() => VolumeFile.Read("/nonexistent/ct.nii.gz", cancellationToken: TestContext.Current.CancellationToken));

    [Theory]
    [InlineData("v.nii.gz")]
    [InlineData("v.nrrd")]
    [InlineData("v.mha")]
    public void Every_geometry_format_round_trips_an_oblique_volume(string name)
    {
        var c = Math.Cos(0.4);
        var s = Math.Sin(0.4);
        var g = new VolumeGeometry(new GridSize(5, 4, 3), new Vector3(0.7, 1.3, 2.9), new Vector3(-12.5, 30, 4), new Direction3(new Vector3(c, s, 0), new Vector3(-s, c, 0), new Vector3(0, 0, 1)));
        var v = new Volume(g, VoxelType.Int16);
        v[4, 3, 2] = -1234;
        v[1, 0, 0] = 77;
        var path = Path.Combine(Directory.CreateTempSubdirectory("segcam-vf-").FullName, name);
        VolumeFile.Write(v, path, TestContext.Current.CancellationToken);
        var back = VolumeFile.Read(path, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(back.Geometry.SameGrid(g, 1e-4), $"{back.Geometry} vs {g}");
        Assert.Equal(-1234, back[4, 3, 2]);
        Assert.Equal(77, back[1, 0, 0]);
    }
}
