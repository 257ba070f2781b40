using Grpc.Core;
using Grpc.Reflection.V1Alpha;
using SegCam.Server.IntegrationTests.Infrastructure;

namespace SegCam.Server.IntegrationTests;

/// <summary>grpcurl-style discovery through server reflection, and the server's self-description.</summary>
public sealed class DiscoveryTests
{
    [Fact]
    public async Task Reflection_lists_the_services_and_serves_the_proto_file()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { ApiKey = "k" });
        using var client = server.Client();
        var reflection = new ServerReflection.ServerReflectionClient(client.Channel);
        using var call = reflection.ServerReflectionInfo(cancellationToken: ct);
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = string.Empty }, ct);
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "segcam.v1.SegCamService" }, ct);
        await call.RequestStream.CompleteAsync();
        var responses = new List<ServerReflectionResponse>();
        await foreach (var r in call.ResponseStream.ReadAllAsync(ct))
        {
            responses.Add(r);
        }

        var services = responses[0].ListServicesResponse.Service.Select(s => s.Name).ToArray();
        Assert.Contains("segcam.v1.SegCamService", services);
        Assert.Contains("grpc.health.v1.Health", services);
        var file = Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(responses[1].FileDescriptorResponse.FileDescriptorProto[0]);
        Assert.Equal("segcam/v1/segcam.proto", file.Name);
        Assert.Equal("segcam.v1", file.Package);
        Assert.Contains(file.Service.Single().Method, m => m.Name == "ComputeCam" && m.ServerStreaming);
    }

    [Fact]
    public async Task Server_info_and_models_describe_the_engine_limits_and_layers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { MaxQueued = 5 });
        using var client = server.Client();
        var info = await client.GetServerInfoAsync(ct);
        Assert.Equal("CPU", info.ExecutionProvider);
        Assert.Equal("segcam.v1", info.Protocol);
        Assert.Equal(Cam.Methods.CamMethodNames.All, info.Methods);
        Assert.Equal(5, info.Limits.MaxQueued);
        Assert.False(info.AuthRequired);
        Assert.Matches(@"^\d+\.\d+\.\d+", info.Version);

        var models = await client.ListModelsAsync(ct);
        var unet = models.Single(m => m.Id == "demo-unet2d");
        Assert.Equal(["background", "kidney", "tumour"], unet.Classes);
        Assert.Equal(2, unet.Dimensionality);
        Assert.Equal("axial", unet.SliceAxis);
        Assert.Contains(unet.Layers, l => l.Role == "bottleneck" && l.Name == unet.DefaultLayer);
        Assert.Contains(unet.Layers, l => l.Role.StartsWith("encoder", StringComparison.Ordinal));
        Assert.Contains("window", unet.Preprocessing, StringComparison.Ordinal);
        Assert.True(unet.Metrics["heldout_dice_tumour"] > 0.5);
        Assert.Equal(3, models.Single(m => m.Id == "demo-unet3d").Dimensionality);
    }
}
