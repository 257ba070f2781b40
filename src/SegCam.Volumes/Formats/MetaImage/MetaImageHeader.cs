using System.Globalization;
using System.Text;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.MetaImage;

/// <summary>
/// A parsed MetaImage header ("Key = Value" lines up to and including ElementDataFile). Only what the reader needs is
/// kept; other keys (ITK metadata, CenterOfRotation, …) are ignored. Sizes are validated but not yet limit-checked.
/// </summary>
internal sealed class MetaImageHeader
{
    /// <summary>Most bytes a header may take; ElementDataFile must appear within them.</summary>
    public const int MaxHeaderBytes = 1 << 20;

    /// <summary>The ElementDataFile value meaning "the data follows the header in the same file".</summary>
    public const string Local = "LOCAL";

    private static readonly string[] KnownKeys =
    [
        "ObjectType", "NDims", "DimSize", "ElementType", "ElementNumberOfChannels", "ElementSpacing", "ElementSize",
        "Offset", "Origin", "Position", "TransformMatrix", "Rotation", "Orientation", "BinaryData",
        "BinaryDataByteOrderMSB", "ElementByteOrderMSB", "CompressedData", "CompressedDataSize", "HeaderSize",
        "AnatomicalOrientation", "ElementDataFile",
    ];

    private static readonly string[] ByteOrderKeys = ["BinaryDataByteOrderMSB", "ElementByteOrderMSB"];
    private static readonly string[] OriginKeys = ["Offset", "Origin", "Position"];
    private static readonly string[] DirectionKeys = ["TransformMatrix", "Rotation", "Orientation"];

    private MetaImageHeader(string path)
    {
        Path = path;
    }

    /// <summary>The header file (for messages).</summary>
    public string Path { get; }

    /// <summary>NDims: 2 or 3.</summary>
    public int Dimensions { get; private set; }

    /// <summary>DimSize, as a 3-D grid (a 2-D image has one slice).</summary>
    public GridSize Size { get; private set; }

    /// <summary>ElementType.</summary>
    public VoxelType Type { get; private set; }

    /// <summary>ElementSpacing (or, when absent, ElementSize, the voxel extent), one per dimension; 1 when both are absent.</summary>
    public double[] Spacing { get; private set; } = [];

    /// <summary>Offset / Origin / Position, one per dimension; 0 when absent.</summary>
    public double[] Offset { get; private set; } = [];

    /// <summary>
    /// TransformMatrix / Rotation / Orientation, NDims² values; as ITK writes it, values [a·n, a·n + n) are the
    /// direction of index axis a (a column of the direction matrix). Identity when absent.
    /// </summary>
    public double[] Matrix { get; private set; } = [];

    /// <summary>BinaryDataByteOrderMSB / ElementByteOrderMSB: big-endian voxels.</summary>
    public bool BigEndian { get; private set; }

    /// <summary>CompressedData: the voxels are one zlib (or gzip) stream.</summary>
    public bool Compressed { get; private set; }

    /// <summary>CompressedDataSize in bytes, or null when absent or 0 (then the rest of the file is the stream).</summary>
    public long? CompressedDataSize { get; private set; }

    /// <summary>HeaderSize: bytes to skip before the data (ITK: an offset from the start of the data's file), −1 for "data at the end", or null.</summary>
    public long? HeaderSize { get; private set; }

    /// <summary>AnatomicalOrientation (informational only; TransformMatrix is what places the voxels).</summary>
    public string? AnatomicalOrientation { get; private set; }

    /// <summary>ElementDataFile: <see cref="Local"/> or a file name relative to the header's folder.</summary>
    public string ElementDataFile { get; private set; } = Local;

    /// <summary>True when the voxels follow the header in the same file.</summary>
    public bool IsLocal => ElementDataFile == Local;

    /// <summary>Offset in the header file of the first byte after the ElementDataFile line.</summary>
    public long HeaderEnd { get; private set; }

    /// <summary>Bytes of voxel data the header promises (after decompression).</summary>
    public long DataBytes => Size.Voxels * Type.Size();

    /// <summary>
    /// Parses the header at the start of <paramref name="bytes"/>: the first bytes of the file, at most
    /// <see cref="MaxHeaderBytes"/>; <paramref name="wholeFile"/> says whether they are the entire file.
    /// </summary>
    public static MetaImageHeader Parse(ReadOnlySpan<byte> bytes, bool wholeFile, string path)
    {
        if (bytes.IsEmpty)
        {
            throw new VolumeFormatException($"'{path}' is empty; a MetaImage file starts with a text header");
        }

        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var start = 0;
        var lineNumber = 0;
        while (start < bytes.Length)
        {
            lineNumber++;
            var newline = bytes[start..].IndexOf((byte)'\n');
            if (newline < 0 && !wholeFile)
            {
                break;
            }

            var end = newline < 0 ? bytes.Length : start + newline;
            var line = Encoding.Latin1.GetString(bytes[start..end]).Trim();
            start = newline < 0 ? bytes.Length : end + 1;
            if (line.Length == 0)
            {
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var key = equals > 0 ? line[..equals].Trim() : string.Empty;
            if (key.Length == 0)
            {
                throw new VolumeFormatException($"'{path}': header line {lineNumber} is not 'Key = Value' (\"{Shorten(line)}\"); is this a MetaImage file?");
            }

            var value = line[(equals + 1)..].Trim();
            var known = Array.Find(KnownKeys, k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
            if (known is not null && !values.TryAdd(known, value))
            {
                throw new VolumeFormatException($"'{path}': header key {known} appears more than once");
            }

            if (known == "ElementDataFile")
            {
                if (value.StartsWith("LIST", StringComparison.OrdinalIgnoreCase) || value.Contains('%', StringComparison.Ordinal))
                {
                    throw new VolumeFormatException($"'{path}': ElementDataFile = {Shorten(value)}: file lists and numbered file patterns are not supported; use LOCAL or one data file");
                }

                var detached = !string.Equals(value, Local, StringComparison.OrdinalIgnoreCase);
                if (detached && (!wholeFile || bytes[start..].IndexOfAnyExcept(" \t\r\n"u8) >= 0))
                {
                    throw new VolumeFormatException($"'{path}': the header goes on after ElementDataFile (line {lineNumber}), which must be its last line");
                }

                var header = new MetaImageHeader(path) { HeaderEnd = start };
                header.Interpret(values);
                return header;
            }
        }

        throw wholeFile
            ? new VolumeFormatException($"'{path}': the header has no ElementDataFile line (it must be the last header key)")
            : new VolumeFormatException($"'{path}': no ElementDataFile line within the first {MaxHeaderBytes:N0} bytes; the header is too long or this is not a MetaImage file");
    }

    /// <summary>The voxel grid this header describes (LPS, as ITK stores it).</summary>
    public VolumeGeometry Geometry()
    {
        var n = Dimensions;
        var spacing = new Vector3(Spacing[0], Spacing[1], n == 3 ? Spacing[2] : 1);
        var origin = new Vector3(Offset[0], Offset[1], n == 3 ? Offset[2] : 0);
        Vector3 Column(int a) => a < n ? new Vector3(Matrix[a * n], Matrix[(a * n) + 1], n == 3 ? Matrix[(a * n) + 2] : 0) : new Vector3(0, 0, 1);
        try
        {
            return new VolumeGeometry(Size, spacing, origin, new Direction3(Column(0), Column(1), Column(2)));
        }
        catch (VolumeFormatException ex)
        {
            throw new VolumeFormatException($"'{Path}': {ex.Message}", ex);
        }
    }

    private void Interpret(Dictionary<string, string> values)
    {
        if (values.TryGetValue("ObjectType", out var objectType) && !string.Equals(objectType, "Image", StringComparison.OrdinalIgnoreCase))
        {
            throw Error($"ObjectType is '{Shorten(objectType)}'; only Image is supported");
        }

        var dims = Integer(values, "NDims") ?? throw Error("the header has no NDims");
        if (dims is < 2 or > 3)
        {
            throw Error($"NDims = {dims} is not supported; only 2-D and 3-D images are");
        }

        Dimensions = (int)dims;
        ReadSize(values);
        ReadType(values);

        if (Integer(values, "ElementNumberOfChannels") is { } channels && channels != 1)
        {
            throw Error($"ElementNumberOfChannels = {channels}; only single-channel (scalar) images are supported");
        }

        if (Boolean(values, "BinaryData") == false)
        {
            throw Error("BinaryData = False (ASCII voxel data) is not supported");
        }

        var byteOrders = ByteOrderKeys.Where(values.ContainsKey).Select(k => Boolean(values, k)).Distinct().ToList();
        if (byteOrders.Count > 1)
        {
            throw Error("BinaryDataByteOrderMSB and ElementByteOrderMSB disagree");
        }

        BigEndian = byteOrders.Count == 1 && byteOrders[0] == true;
        Compressed = Boolean(values, "CompressedData") ?? false;
        var compressedSize = Integer(values, "CompressedDataSize");
        if (compressedSize < 0)
        {
            throw Error($"CompressedDataSize = {compressedSize} is negative");
        }

        CompressedDataSize = compressedSize is > 0 ? compressedSize : null;
        HeaderSize = Integer(values, "HeaderSize");
        if (HeaderSize < -1)
        {
            throw Error($"HeaderSize = {HeaderSize} is invalid; it must be -1 (data at the end of the file) or a byte count");
        }

        if (HeaderSize == -1 && Compressed)
        {
            throw Error("HeaderSize = -1 (data at the end of the file) cannot locate compressed data");
        }

        var n = Dimensions;
        Spacing = Numbers(values, "ElementSpacing", n) ?? Numbers(values, "ElementSize", n) ?? [.. Enumerable.Repeat(1.0, n)];
        Offset = Synonym(values, OriginKeys, n, "origin") ?? new double[n];
        Matrix = Synonym(values, DirectionKeys, n * n, "direction")
                 ?? [.. Enumerable.Range(0, n * n).Select(e => e / n == e % n ? 1.0 : 0.0)];
        AnatomicalOrientation = values.GetValueOrDefault("AnatomicalOrientation");

        var dataFile = values["ElementDataFile"];
        if (dataFile.Length == 0)
        {
            throw Error("ElementDataFile is empty");
        }

        ElementDataFile = string.Equals(dataFile, Local, StringComparison.OrdinalIgnoreCase) ? Local : dataFile;
    }

    private void ReadSize(Dictionary<string, string> values)
    {
        if (!values.TryGetValue("DimSize", out var text))
        {
            throw Error("the header has no DimSize");
        }

        var parts = Split(text);
        if (parts.Length != Dimensions)
        {
            throw Error($"DimSize has {parts.Length} values; NDims = {Dimensions} needs {Dimensions}");
        }

        var size = new int[3] { 1, 1, 1 };
        for (var a = 0; a < parts.Length; a++)
        {
            if (!long.TryParse(parts[a], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            {
                throw Error($"DimSize = {Shorten(text)} is not a list of whole numbers");
            }

            if (v < 1)
            {
                throw Error($"DimSize = {text}: every axis needs at least one voxel");
            }

            if (v > int.MaxValue)
            {
                throw new ResourceLimitException($"'{Path}': DimSize axis {a} has {v:N0} voxels; that is far beyond any limit");
            }

            size[a] = (int)v;
        }

        Size = new GridSize(size[0], size[1], size[2]);
    }

    private void ReadType(Dictionary<string, string> values)
    {
        if (!values.TryGetValue("ElementType", out var name))
        {
            throw Error("the header has no ElementType");
        }

        Type = MetaElementTypes.Parse(name) ?? throw Error($"ElementType = {Shorten(name)} is not supported; allowed: {MetaElementTypes.Allowed}");
    }

    /// <summary>The numbers under the first of <paramref name="keys"/> present; any others present must agree with it.</summary>
    private double[]? Synonym(Dictionary<string, string> values, string[] keys, int count, string what)
    {
        double[]? found = null;
        string? foundKey = null;
        foreach (var key in keys.Where(values.ContainsKey))
        {
            var value = Numbers(values, key, count)!;
            if (found is null)
            {
                (found, foundKey) = (value, key);
            }
            else if (!found.AsSpan().SequenceEqual(value))
            {
                throw Error($"{foundKey} and {key} both give the {what} and disagree");
            }
        }

        return found;
    }

    private double[]? Numbers(Dictionary<string, string> values, string key, int count)
    {
        if (!values.TryGetValue(key, out var text))
        {
            return null;
        }

        var parts = Split(text);
        if (parts.Length != count)
        {
            throw Error($"{key} has {parts.Length} values; NDims = {Dimensions} needs {count}");
        }

        var result = new double[count];
        for (var i = 0; i < count; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]) || !double.IsFinite(result[i]))
            {
                throw Error($"{key} = {Shorten(text)} is not a list of finite numbers");
            }
        }

        return result;
    }

    private long? Integer(Dictionary<string, string> values, string key)
    {
        if (!values.TryGetValue(key, out var text))
        {
            return null;
        }

        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw Error($"{key} = {Shorten(text)} is not a whole number");
    }

    private bool? Boolean(Dictionary<string, string> values, string key)
    {
        if (!values.TryGetValue(key, out var text))
        {
            return null;
        }

        return text.ToUpperInvariant() switch
        {
            "TRUE" or "T" or "1" => true,
            "FALSE" or "F" or "0" => false,
            _ => throw Error($"{key} = {Shorten(text)} is not True or False"),
        };
    }

    private static string[] Split(string text) => text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    private VolumeFormatException Error(string message) => new($"'{Path}': {message}");
}
