namespace SegCam.Cli.Tests;

/// <summary>Locates the repository (by SegCamPlugin.sln) and the shared folder beside it.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>../shared from the repository root: present for every developer and in CI.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static string Fixtures => Path.Combine(Root, "tests", "fixtures");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SegCamPlugin.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no SegCamPlugin.sln above {AppContext.BaseDirectory}");
    }
}
