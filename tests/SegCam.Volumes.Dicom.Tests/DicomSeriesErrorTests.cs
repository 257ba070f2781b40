using SegCam.Common.Errors;

namespace SegCam.Volumes.Dicom.Tests;

/// <summary>Folders that do not make one regular series, built from the oblique fixture and the extras.</summary>
public sealed class DicomSeriesErrorTests
{
    private static readonly DicomSeriesFormat Format = new();

    private static VolumeFormatException ReadFails(string path)
        => Assert.Throws<VolumeFormatException>(() => Format.Read(path, VolumeLimits.Default, TestContext.Current.CancellationToken));

    private static TempFolder ObliqueWith(params string[] extras)
    {
        var folder = new TempFolder().CopyAll(DicomFixtures.Path("series_oblique"));
        foreach (var extra in extras)
        {
            folder.Copy(DicomFixtures.Path(Path.Combine("extras", extra)));
        }

        return folder;
    }

    [Fact]
    public void Two_series_in_one_folder_are_listed_with_uids_and_descriptions()
    {
        DicomFixtures.RequireGdcm();
        using var folder = ObliqueWith("other_series.dcm");

        var ex = ReadFails(folder.Path);

        Assert.Contains("2 DICOM series", ex.Message);
        Assert.Contains(DicomFixtures.SeriesUid("series_oblique"), ex.Message);
        Assert.Contains("\"SegCam oblique fixture\" (5 files)", ex.Message);
        Assert.Contains("\"Other series\" (1 file)", ex.Message);
        Assert.Matches(@"1\.2\.826\.0\.1\.3680043\.8\.498\.\d+ ""Other series""", ex.Message);
    }

    [Fact]
    public void A_missing_middle_slice_is_reported_as_uneven_spacing_with_the_gap()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder().CopyAll(DicomFixtures.Path("series_oblique"));
        var order = DicomFixtures.Files("series_oblique");
        File.Delete(Path.Combine(folder.Path, order[2]));

        var ex = ReadFails(folder.Path);

        Assert.Contains("uneven slice spacing", ex.Message);
        Assert.Contains("2.5 mm apart (median)", ex.Message);
        Assert.Contains($"'{order[1]}'", ex.Message);
        Assert.Contains($"'{order[3]}'", ex.Message);
        Assert.Contains("are 5 mm apart", ex.Message);
    }

    [Fact]
    public void Mixed_orientations_are_rejected()
    {
        DicomFixtures.RequireGdcm();
        using var folder = ObliqueWith("other_orientation.dcm");

        var ex = ReadFails(folder.Path);

        Assert.Contains("differ in orientation", ex.Message);
        Assert.Contains("'other_orientation.dcm'", ex.Message);
    }

    [Fact]
    public void Two_frames_of_reference_are_rejected()
    {
        DicomFixtures.RequireGdcm();
        using var folder = ObliqueWith("other_frame_of_reference.dcm");

        var ex = ReadFails(folder.Path);

        Assert.Contains("mixes 2 frames of reference", ex.Message);
        Assert.Contains("(5 files, e.g.", ex.Message);
        Assert.Contains("(1 files, e.g. 'other_frame_of_reference.dcm')", ex.Message);
    }

    [Fact]
    public void Duplicate_positions_are_rejected_naming_both_files()
    {
        DicomFixtures.RequireGdcm();
        using var folder = ObliqueWith("duplicate_position.dcm");

        var ex = ReadFails(folder.Path);

        Assert.Contains("lie at the same position", ex.Message);
        Assert.Contains("'duplicate_position.dcm'", ex.Message);
        Assert.Contains($"'{DicomFixtures.Files("series_oblique")[2]}'", ex.Message);
    }

    [Fact]
    public void An_empty_folder_is_reported()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();

        var ex = ReadFails(folder.Path);

        Assert.Contains("is empty", ex.Message);
    }

    [Fact]
    public void A_folder_without_dicom_images_is_reported()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "readme.txt"), "hello\n");
        File.WriteAllBytes(Path.Combine(folder.Path, "zeros.dcm"), new byte[200]);

        var ex = ReadFails(folder.Path);

        Assert.Contains("none of its 2 files is a DICOM image", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_dicom_is_reported_when_named()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "image.dcm");
        File.WriteAllText(path, "not DICOM\n");

        var ex = ReadFails(path);

        Assert.Contains("is not a DICOM image file", ex.Message);
    }

    [Fact]
    public void Truncated_pixel_data_is_reported_not_zero_filled()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.Copy(DicomFixtures.PydicomFile("MR_truncated.dcm"));

        var ex = ReadFails(folder.Path);

        Assert.Contains("missing or truncated", ex.Message);
        Assert.Contains("of 8192 bytes", ex.Message);
    }

    [Fact]
    public void A_malformed_value_is_reported_only_for_the_series_read()
    {
        DicomFixtures.RequireGdcm();
        using var folder = ObliqueWith();
        folder.Copy(DicomFixtures.PydicomFile("badVR.dcm")); // NumberOfFrames '1A', another series
        var oblique = DicomFixtures.SeriesUid("series_oblique");

        DicomFixtures.AssertMatches(Format.Read(folder.Path, oblique, VolumeLimits.Default, TestContext.Current.CancellationToken), "series_oblique");

        var ex = ReadFails(Path.Combine(folder.Path, "badVR.dcm"));
        Assert.Contains("'badVR.dcm': NumberOfFrames (0028,0008) holds '1A', not numbers", ex.Message);
    }

    [Fact]
    public void Multi_frame_images_are_rejected_clearly()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.Copy(DicomFixtures.PydicomFile("rtdose.dcm"));

        var ex = ReadFails(folder.Path);

        Assert.Contains("multi-frame image (15 frames", ex.Message);
    }

    [Fact]
    public void Colour_images_are_rejected_clearly()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.Copy(DicomFixtures.PydicomFile("SC_rgb_rle.dcm"));

        var ex = ReadFails(folder.Path);

        Assert.Contains("RGB image with 3 samples per pixel", ex.Message);
    }

    [Fact]
    public void Images_without_patient_position_are_rejected_clearly()
    {
        DicomFixtures.RequireGdcm();
        using var folder = new TempFolder();
        folder.Copy(DicomFixtures.PydicomFile("JPEG2000.dcm"));

        var ex = ReadFails(folder.Path);

        // An NM image with NumberOfFrames 1 and PixelSpacing, but no position in the patient.
        Assert.Contains("'JPEG2000.dcm' has no ImagePositionPatient / ImageOrientationPatient:", ex.Message);
    }
}
