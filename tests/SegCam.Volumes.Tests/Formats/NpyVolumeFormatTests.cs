using SegCam.Common.Errors;
using SegCam.Common.Tensors;
using SegCam.Volumes.Formats.Npy;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Tests.Formats;

public sealed class NpyVolumeFormatTests
{
    private static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("segcam-npy-").FullName, name);

    [Fact]
    public void Array_k_j_i_becomes_a_volume_with_i_fastest()
    {
        var path = Temp("x.npy");
        var values = Enumerable.Range(0, 2 * 3 * 4).Select(v => (short)v).ToArray();
        var bytes = new byte[values.Length * 2];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        NpyFile.Write(path, new NdArray(NpyDType.Int16, [2, 3, 4], bytes));
        var volume = new NpyVolumeFormat().Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken);
        Assert.Equal(new GridSize(4, 3, 2), volume.Geometry.Size);
        Assert.Equal(VoxelType.Int16, volume.Type);
        Assert.Equal(1 + (2 * 4) + (1 * 12), volume[1, 2, 1]);
        Assert.Equal(VolumeGeometry.Identity(volume.Geometry.Size), volume.Geometry);
    }

    [Fact]
    public void Two_d_array_and_leading_unit_axes_read_as_one_slice()
    {
        var path = Temp("x.npy");
        NpyFile.Write(path, NdArray.FromFloat32([1, 2, 3, 4, 5, 6], 1, 1, 2, 3));
        var volume = new NpyVolumeFormat().Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken);
        Assert.Equal(new GridSize(3, 2, 1), volume.Geometry.Size);
        Assert.Equal(6, volume[2, 1, 0]);
    }

    [Fact]
    public void Round_trip_keeps_type_and_voxels()
    {
        var v = new Volume(VolumeGeometry.Identity(new GridSize(5, 4, 3)), VoxelType.Float64);
        for (var k = 0; k < 3; k++)
        {
            for (var j = 0; j < 4; j++)
            {
                for (var i = 0; i < 5; i++)
                {
                    v[i, j, k] = (i * 0.5) - (j * k) + 0.125;
                }
            }
        }

        var path = Temp("v.npy");
        var format = new NpyVolumeFormat();
        format.Write(v, path, TestContext.Current.CancellationToken);
        Assert.True(v.ContentEquals(format.Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken)));
    }

    [Fact]
    public void Four_real_axes_or_int64_are_rejected()
    {
        var path = Temp("x.npy");
        NpyFile.Write(path, NdArray.FromFloat32(new float[16], 2, 2, 2, 2));
        var ex = Assert.Throws<VolumeFormatException>(() => new NpyVolumeFormat().Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken));
        Assert.Contains("(K, J, I)", ex.Message, StringComparison.Ordinal);
        NpyFile.Write(path, NdArray.FromInt64([1, 2], 2));
        var bad = Assert.Throws<VolumeFormatException>(() => new NpyVolumeFormat().Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken));
        Assert.Contains("int64", bad.Message, StringComparison.Ordinal);
    }
}
