using Grpc.Core;
using Grpc.Health.V1;
using SegCam.Client;
using SegCam.Server.IntegrationTests.Infrastructure;

namespace SegCam.Server.IntegrationTests;

/// <summary>An API key is required on every SegCamService call when configured; health stays open.</summary>
public sealed class AuthTests
{
    [Fact]
    public async Task Calls_without_or_with_a_wrong_key_are_unauthenticated_and_the_right_key_is_accepted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync(o => o with { ApiKey = "s3cret-key" });

        using (var anonymous = server.Client())
        {
            var error = await Assert.ThrowsAsync<RemoteCallException>(() => anonymous.GetServerInfoAsync(ct));
            Assert.Equal(StatusCode.Unauthenticated, error.Status);
            Assert.Contains("requires an API key", error.Message, StringComparison.Ordinal);
            Assert.Equal("Unauthenticated", error.ServerKind);

            var upload = await Assert.ThrowsAsync<RemoteCallException>(() => anonymous.UploadAsync(TestVolumes.Ct(16, 16, 1, 1), cancellationToken: ct));
            Assert.Equal(StatusCode.Unauthenticated, upload.Status);
            Assert.Equal(0, server.Service<Storage.VolumeStore>().Count);

            var health = await new Health.HealthClient(anonymous.Channel).CheckAsync(new HealthCheckRequest(), cancellationToken: ct);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }

        using (var wrong = server.Client("not-the-key"))
        {
            var error = await Assert.ThrowsAsync<RemoteCallException>(() => wrong.ListModelsAsync(ct));
            Assert.Equal(StatusCode.Unauthenticated, error.Status);
            Assert.Contains("API key is wrong", error.Message, StringComparison.Ordinal);
        }

        using var right = server.Client("s3cret-key");
        var info = await right.GetServerInfoAsync(ct);
        Assert.True(info.AuthRequired);
        Assert.Equal(2, (await right.ListModelsAsync(ct)).Count);
    }
}
