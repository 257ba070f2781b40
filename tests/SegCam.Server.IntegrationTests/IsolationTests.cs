using System.Reflection;

namespace SegCam.Server.IntegrationTests;

/// <summary>The dependency rules of STYLE.md: the core knows nothing of gRPC, ASP.NET or the CLI; the client never loads ONNX Runtime.</summary>
public sealed class IsolationTests
{
    private static HashSet<string> Closure(Assembly root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { root.GetName().Name! };
        var todo = new Queue<Assembly>([root]);
        while (todo.TryDequeue(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (seen.Add(reference.Name!) && reference.Name!.StartsWith("SegCam.", StringComparison.Ordinal))
                {
                    todo.Enqueue(Assembly.Load(reference));
                }
            }
        }

        return seen;
    }

    [Theory]
    [InlineData(typeof(Common.Errors.SegCamException))]
    [InlineData(typeof(Onnx.Model.OpsetUpgrade))]
    [InlineData(typeof(Cam.SegmentationModel))]
    [InlineData(typeof(Volumes.Volume))]
    [InlineData(typeof(Pipelines.VolumePipelines))]
    public void Core_assemblies_reference_no_grpc_aspnet_or_command_line(Type type)
    {
        var closure = Closure(type.Assembly);
        Assert.DoesNotContain(closure, n => n.StartsWith("Grpc", StringComparison.Ordinal) || n.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || n == "System.CommandLine" || n == "SegCam.Server" || n == "SegCam.Client");
    }

    [Fact]
    public void The_client_never_loads_onnx_runtime_or_the_server()
    {
        var closure = Closure(typeof(Client.SegCamClient).Assembly);
        Assert.Contains("Grpc.Net.Client", closure);
        Assert.DoesNotContain(closure, n => n.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal) || n is "SegCam.Cam" or "SegCam.Onnx" or "SegCam.Server" or "SegCam.Pipelines");
    }
}
