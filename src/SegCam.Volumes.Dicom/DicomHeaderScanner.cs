#if SEGCAM_GDCM
using System.Globalization;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// Reads the headers of DICOM files with GDCM, stopping before the pixel data. Files GDCM cannot parse and DICOM
/// files without an image (no Rows: DICOMDIR, structured reports, RT structure sets, …) are skipped.
/// </summary>
internal static class DicomHeaderScanner
{
    private const string DeflatedExplicitVrLittleEndian = "1.2.840.10008.1.2.1.99";

    /// <summary>The headers of the DICOM images among <paramref name="paths"/>, in the given order.</summary>
    public static List<DicomSliceHeader> Scan(IEnumerable<string> paths, CancellationToken cancellationToken)
    {
        var headers = new List<DicomSliceHeader>();
        foreach (var path in paths)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Read(path) is { } header)
            {
                headers.Add(header);
            }
        }

        return headers;
    }

    /// <summary>The header of <paramref name="path"/>, or null when it is not a DICOM image.</summary>
    public static DicomSliceHeader? Read(string path)
    {
        using var reader = new gdcm.Reader();
        reader.SetFileName(path);
        using var pixelData = new gdcm.Tag(0x7FE0, 0x0010);
        using var skip = new gdcm.TagSetType();
        skip.Add(pixelData);
        try
        {
            if (!reader.ReadUpToTag(pixelData, skip))
            {
                return null;
            }
        }
        catch (ApplicationException)
        {
            return null; // GDCM threw while parsing: not a (readable) DICOM file
        }

        // GDCM leaves the stream at the start of the Pixel Data value; for native encodings the value must fit in the file.
        long valueStart = reader.GetStreamCurrentPosition();
        var file = reader.GetFile();
        using var header = new Fields(path, file);
        if (header.Text(0x0028, 0x0010) is null)
        {
            return null;
        }

        long? available = null;
        using (var syntax = file.GetHeader().GetDataSetTransferSyntax())
        {
            var uid = syntax.GetString()?.Trim('\0', ' ');
            if (!syntax.IsEncapsulated() && uid != DeflatedExplicitVrLittleEndian && valueStart > 0)
            {
                available = new FileInfo(path).Length - valueStart;
            }
        }

        var bitsAllocated = header.Integer(0x0028, 0x0100, "BitsAllocated") ?? 0;
        var bitsStored = header.Integer(0x0028, 0x0101, "BitsStored") ?? bitsAllocated;
        return new DicomSliceHeader
        {
            Path = path,
            SeriesInstanceUid = header.Text(0x0020, 0x000E) ?? string.Empty,
            SeriesDescription = header.Text(0x0008, 0x103E) ?? string.Empty,
            FrameOfReferenceUid = header.Text(0x0020, 0x0052) ?? string.Empty,
            Rows = header.Integer(0x0028, 0x0010, "Rows") ?? 0,
            Columns = header.Integer(0x0028, 0x0011, "Columns") ?? 0,
            NumberOfFrames = header.Integer(0x0028, 0x0008, "NumberOfFrames") ?? 1,
            SamplesPerPixel = header.Integer(0x0028, 0x0002, "SamplesPerPixel") ?? 1,
            PhotometricInterpretation = header.Text(0x0028, 0x0004)?.ToUpperInvariant() ?? string.Empty,
            BitsAllocated = bitsAllocated,
            BitsStored = bitsStored,
            HighBit = header.Integer(0x0028, 0x0102, "HighBit") ?? (bitsStored - 1),
            PixelRepresentation = header.Integer(0x0028, 0x0103, "PixelRepresentation") ?? 0,
            Position = header.Numbers(0x0020, 0x0032, "ImagePositionPatient") is { Length: 3 } p ? new Vector3(p[0], p[1], p[2]) : null,
            Orientation = header.Numbers(0x0020, 0x0037, "ImageOrientationPatient"),
            PixelSpacing = header.Numbers(0x0028, 0x0030, "PixelSpacing"),
            SliceThickness = header.Numbers(0x0018, 0x0050, "SliceThickness") is { Length: 1 } t ? t[0] : null,
            RescaleSlope = header.Numbers(0x0028, 0x1053, "RescaleSlope") is { Length: 1 } slope ? slope[0] : 1,
            RescaleIntercept = header.Numbers(0x0028, 0x1052, "RescaleIntercept") is { Length: 1 } intercept ? intercept[0] : 0,
            HasModalityLutSequence = header.Has(0x0028, 0x3000),
            NativePixelBytesAvailable = available,
            Problem = header.Problem,
        };
    }

    /// <summary>
    /// Top-level attributes of one file as text (GDCM's StringFilter also renders binary VRs such as US). A malformed
    /// value reads as absent and is kept in <see cref="Problem"/>: it only matters if the file is in the series read.
    /// </summary>
    private sealed class Fields(string path, gdcm.File file) : IDisposable
    {
        private readonly gdcm.DataSet _dataSet = file.GetDataSet();
        private readonly gdcm.StringFilter _filter = Filter(file);

        public string? Problem { get; private set; }

        public bool Has(ushort group, ushort element)
        {
            using var tag = new gdcm.Tag(group, element);
            return _dataSet.FindDataElement(tag);
        }

        public string? Text(ushort group, ushort element)
        {
            using var tag = new gdcm.Tag(group, element);
            if (!_dataSet.FindDataElement(tag))
            {
                return null;
            }

            using var data = _dataSet.GetDataElement(tag);
            if (data.IsEmpty())
            {
                return null;
            }

            var text = _filter.ToString(tag)?.Trim('\0', ' ');
            return string.IsNullOrEmpty(text) ? null : text;
        }

        public double[]? Numbers(ushort group, ushort element, string keyword)
        {
            if (Text(group, element) is not { } text)
            {
                return null;
            }

            var parts = text.Split('\\');
            var values = new double[parts.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                {
                    Note($"{keyword} ({group:X4},{element:X4}) holds '{text}', not numbers");
                    return null;
                }
            }

            return values;
        }

        public int? Integer(ushort group, ushort element, string keyword)
        {
            if (Numbers(group, element, keyword) is not { } values)
            {
                return null;
            }

            var value = values[0];
            if (values.Length != 1 || value != Math.Floor(value) || value < 0 || value > int.MaxValue)
            {
                Note($"{keyword} ({group:X4},{element:X4}) is not a count: {string.Join('\\', values)}");
                return null;
            }

            return (int)value;
        }

        public void Dispose() => _filter.Dispose();

        private void Note(string problem) => Problem ??= $"'{System.IO.Path.GetFileName(path)}': {problem}";

        private static gdcm.StringFilter Filter(gdcm.File file)
        {
            var filter = new gdcm.StringFilter();
            filter.SetFile(file);
            return filter;
        }
    }
}
#endif
