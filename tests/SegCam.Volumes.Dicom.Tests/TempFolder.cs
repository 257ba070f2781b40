namespace SegCam.Volumes.Dicom.Tests;

/// <summary>A fresh folder under the system temp folder, deleted on dispose; tests assemble DICOM folders in it.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "segcam-dicom-" + Guid.NewGuid().ToString("N"))).FullName;
    }

    public string Path { get; }

    /// <summary>Copies every file of <paramref name="folder"/> here.</summary>
    public TempFolder CopyAll(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder))
        {
            Copy(file);
        }

        return this;
    }

    /// <summary>Copies <paramref name="file"/> here, as <paramref name="name"/> or under its own name; returns the copy's path.</summary>
    public string Copy(string file, string? name = null)
    {
        var target = System.IO.Path.Combine(Path, name ?? System.IO.Path.GetFileName(file));
        File.Copy(file, target);
        return target;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }
}
