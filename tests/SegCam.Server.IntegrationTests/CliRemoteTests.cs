using SegCam.Cli;
using SegCam.Server.IntegrationTests.Infrastructure;
using SegCam.Volumes.Formats;

namespace SegCam.Server.IntegrationTests;

/// <summary><c>segcam … --server URL</c> gives what the in-process command gives.</summary>
public sealed class CliRemoteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("segcam-cli-remote-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr, TestContext.Current.CancellationToken);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Cam_and_segment_with_server_write_the_same_files_as_in_process()
    {
        await using var server = await RunningServer.StartAsync(o => o with { ApiKey = "cli-key" });
        var (ct, labels) = TestVolumes.Phantom(seed: 21, slices: 16);
        var ctPath = Path.Combine(_dir, "ct.nii.gz");
        var labelsPath = Path.Combine(_dir, "labels.nrrd");
        VolumeFile.Write(ct, ctPath, TestContext.Current.CancellationToken);
        VolumeFile.Write(labels, labelsPath, TestContext.Current.CancellationToken);
        var keyFile = Path.Combine(_dir, "key.txt");
        await File.WriteAllTextAsync(keyFile, "cli-key\n", TestContext.Current.CancellationToken);
        string[] common = ["cam", "--model", "demo-unet2d", "--input", ctPath, "--class", "tumour", "--labels", labelsPath, "--label", "2", "--method", "seg-hires-grad-cam,seg-grad-cam", "--normalize", "max"];

        var remote = await Run([.. common, "--out", Path.Combine(_dir, "remote.nii.gz"), "--server", server.Address.ToString(), "--api-key-file", keyFile]);
        Assert.True(remote.Code == 0, remote.Err);
        Assert.Contains("server CPU", remote.Out, StringComparison.Ordinal);
        Assert.Contains("segcam: explain", remote.Err, StringComparison.Ordinal);
        var local = await Run([.. common, "--out", Path.Combine(_dir, "local.nii.gz")]);
        Assert.True(local.Code == 0, local.Err);
        foreach (var method in new[] { "seg-hires-grad-cam", "seg-grad-cam" })
        {
            var a = VolumeFile.Read(Path.Combine(_dir, $"remote.{method}.nii.gz"), cancellationToken: TestContext.Current.CancellationToken);
            var b = VolumeFile.Read(Path.Combine(_dir, $"local.{method}.nii.gz"), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(a.ContentEquals(b), method);
        }

        var segRemote = await Run("segment", "--model", "demo-unet2d", "--input", ctPath, "--out", Path.Combine(_dir, "seg-remote.nrrd"), "--server", server.Address.ToString(), "--api-key-file", keyFile);
        Assert.True(segRemote.Code == 0, segRemote.Err);
        var segLocal = await Run("segment", "--model", "demo-unet2d", "--input", ctPath, "--out", Path.Combine(_dir, "seg-local.nrrd"));
        Assert.True(segLocal.Code == 0, segLocal.Err);
        Assert.True(VolumeFile.Read(Path.Combine(_dir, "seg-remote.nrrd"), cancellationToken: TestContext.Current.CancellationToken).ContentEquals(VolumeFile.Read(Path.Combine(_dir, "seg-local.nrrd"), cancellationToken: TestContext.Current.CancellationToken)));

        var info = await Run("info", "--server", server.Address.ToString(), "--api-key-file", keyFile);
        Assert.Equal(0, info.Code);
        Assert.Contains("model demo-unet2d (2-D)", info.Out, StringComparison.Ordinal);
        Assert.Contains("bottleneck", info.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_demo_through_a_server_writes_what_the_in_process_demo_writes()
    {
        await using var server = await RunningServer.StartAsync();
        var remote = await Run("demo", "--out", Path.Combine(_dir, "remote"), "--seed", "7", "--server", server.Address.ToString());
        Assert.True(remote.Code == 0, remote.Err);
        Assert.Contains("computed on", remote.Out, StringComparison.Ordinal);
        var local = await Run("demo", "--out", Path.Combine(_dir, "local"), "--seed", "7");
        Assert.True(local.Code == 0, local.Err);
        foreach (var file in new[] { "segmentation.nii.gz", "seg-hires-grad-cam.nii.gz", "seg-grad-cam.nrrd" })
        {
            var a = VolumeFile.Read(Path.Combine(_dir, "remote", file), cancellationToken: TestContext.Current.CancellationToken);
            var b = VolumeFile.Read(Path.Combine(_dir, "local", file), cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(a.ContentEquals(b), file);
        }

        Assert.Equal(
            await File.ReadAllTextAsync(Path.Combine(_dir, "local", "metrics.json"), TestContext.Current.CancellationToken),
            await File.ReadAllTextAsync(Path.Combine(_dir, "remote", "metrics.json"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Server_errors_reach_the_cli_as_exit_codes_with_the_servers_message()
    {
        await using var server = await RunningServer.StartAsync(o => o with { ApiKey = "cli-key" });
        var (ct, _) = TestVolumes.Phantom(seed: 21, slices: 4);
        var ctPath = Path.Combine(_dir, "ct.nii.gz");
        VolumeFile.Write(ct, ctPath, TestContext.Current.CancellationToken);

        var noKey = await Run("cam", "--model", "demo-unet2d", "--input", ctPath, "--class", "tumour", "--pixel-set", "all", "--out", Path.Combine(_dir, "x.nii.gz"), "--server", server.Address.ToString());
        Assert.Equal(3, noKey.Code);
        Assert.Contains("requires an API key", noKey.Err, StringComparison.Ordinal);

        var keyFile = Path.Combine(_dir, "key.txt");
        await File.WriteAllTextAsync(keyFile, "cli-key", TestContext.Current.CancellationToken);
        var badClass = await Run("cam", "--model", "demo-unet2d", "--input", ctPath, "--class", "spleen", "--pixel-set", "all", "--out", Path.Combine(_dir, "x.nii.gz"), "--server", server.Address.ToString(), "--api-key-file", keyFile);
        Assert.Equal(4, badClass.Code);
        Assert.Contains("class 'spleen' is not one of the model's classes", badClass.Err, StringComparison.Ordinal);
        Assert.Contains("request id", badClass.Err, StringComparison.Ordinal);

        var down = await Run("info", "--server", "http://127.0.0.1:1");
        Assert.NotEqual(0, down.Code);
        Assert.Contains("cannot reach the server", down.Err, StringComparison.Ordinal);
    }
}
