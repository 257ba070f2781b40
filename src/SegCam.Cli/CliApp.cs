using Microsoft.ML.OnnxRuntime;
using System.CommandLine;
using SegCam.Cli.Commands;
using SegCam.Common.Errors;

namespace SegCam.Cli;

/// <summary>The <c>segcam</c> command tree and the one place that maps errors to exit codes.</summary>
public static class CliApp
{
    /// <summary>Exit code of a usage error (bad or missing options).</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a cancelled run.</summary>
    public const int Cancelled = 130;

    /// <summary>Parses and runs <paramref name="args"/>, writing results to <paramref name="stdout"/> and errors to <paramref name="stderr"/>.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        Volumes.Formats.VolumeFile.Register(new Volumes.Dicom.DicomSeriesFormat());
        var root = new RootCommand("SegCamPlugin: class activation maps (Seg-HiRes-Grad CAM and its siblings) for ONNX segmentation models");
        var verbose = new Option<bool>("--verbose") { Description = "Print stack traces of errors", Recursive = true };
        root.Options.Add(verbose);
        root.Subcommands.Add(LayersCommand.Create(stdout));
        root.Subcommands.Add(CamCommand.Create(stdout, stderr));
        root.Subcommands.Add(BenchCommand.Create(stdout, stderr));
        root.Subcommands.Add(SegmentCommand.Create(stdout, stderr));
        root.Subcommands.Add(EvaluateCommand.Create(stdout));
        root.Subcommands.Add(PhantomCommand.Create(stdout));
        root.Subcommands.Add(DemoCommand.Create(stdout, stderr));
        root.Subcommands.Add(BenchVolumeCommand.Create(stdout, stderr));
        root.Subcommands.Add(ServeCommand.Create(stdout, stderr));
        root.Subcommands.Add(InfoCommand.Create(stdout));
        root.Subcommands.Add(BenchServerCommand.Create(stdout, stderr));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await stderr.WriteLineAsync($"segcam: {error.Message}").ConfigureAwait(false);
            }

            await stderr.WriteLineAsync("Run 'segcam --help' (or 'segcam COMMAND --help') for usage.").ConfigureAwait(false);
            return UsageError;
        }

        try
        {
            var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
            return await parse.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
        }
        catch (SegCamException ex)
        {
            await stderr.WriteLineAsync($"segcam: error: {ex.Message}").ConfigureAwait(false);
            if (parse.GetValue(verbose))
            {
                await stderr.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return ExitCode(ex.Kind);
        }
        catch (Exception ex) when (ex is OperationCanceledException or Grpc.Core.RpcException { StatusCode: Grpc.Core.StatusCode.Cancelled })
        {
            await stderr.WriteLineAsync("segcam: cancelled").ConfigureAwait(false);
            return Cancelled;
        }
        catch (UsageException ex)
        {
            await stderr.WriteLineAsync($"segcam: {ex.Message}").ConfigureAwait(false);
            return UsageError;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or InvalidOperationException)
        {
            // A defect or a runtime failure, not bad input: say so plainly instead of aborting with a stack trace.
            await stderr.WriteLineAsync($"segcam: internal error: {ex.Message}").ConfigureAwait(false);
            if (parse.GetValue(verbose))
            {
                await stderr.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return 1;
        }
    }

    /// <summary>The exit code of an error kind (docs: STYLE.md error table).</summary>
    public static int ExitCode(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidInput => 3,
        ErrorKind.NotFound => 4,
        ErrorKind.Unsupported => 5,
        ErrorKind.ResourceLimit => 6,
        ErrorKind.DeviceUnavailable => 7,
        _ => 1,
    };
}

/// <summary>An option value that parses but makes no sense (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
