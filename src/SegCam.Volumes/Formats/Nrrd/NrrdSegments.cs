using System.Globalization;
using System.Text;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>The <c>Segment{n}_…</c> key/value pairs 3D Slicer keeps in a .seg.nrrd header: reading them and writing them.</summary>
internal static class NrrdSegments
{
    private const string Prefix = "Segment";

    /// <summary>Colours for segments written without one (3D Slicer's first generic anatomy colours).</summary>
    private static readonly SegmentColor[] Palette =
    [
        new(0.501961, 0.682353, 0.501961),
        new(0.945098, 0.839216, 0.568627),
        new(0.694118, 0.478431, 0.396078),
        new(0.435294, 0.721569, 0.823529),
        new(0.847059, 0.396078, 0.309804),
        new(0.866667, 0.509804, 0.396078),
        new(0.564706, 0.933333, 0.564706),
        new(0.752941, 0.407843, 0.345098),
        new(0.862745, 0.960784, 0.078431),
        new(0.305882, 0.247059, 0.000000),
    ];

    /// <summary>The segments described in <paramref name="header"/>, ordered by their index n; empty for a plain image.</summary>
    public static IReadOnlyList<NrrdSegmentInfo> Parse(NrrdHeader header, string path)
    {
        var bySegment = new SortedDictionary<int, Dictionary<string, string>>();
        foreach (var (key, value) in header.KeyValues)
        {
            if (!key.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var underscore = key.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= Prefix.Length
                || !int.TryParse(key.AsSpan(Prefix.Length, underscore - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                continue;
            }

            if (!bySegment.TryGetValue(index, out var entries))
            {
                bySegment[index] = entries = new Dictionary<string, string>(StringComparer.Ordinal);
            }

            entries[key[(underscore + 1)..]] = value;
        }

        var segments = new List<NrrdSegmentInfo>(bySegment.Count);
        foreach (var (index, entries) in bySegment)
        {
            var label = 1;
            if (entries.TryGetValue("LabelValue", out var labelText)
                && !int.TryParse(labelText.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out label))
            {
                throw new VolumeFormatException($"'{path}': Segment{index}_LabelValue '{labelText}' is not a whole number");
            }

            var layer = 0;
            if (entries.TryGetValue("Layer", out var layerText)
                && !int.TryParse(layerText.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out layer))
            {
                throw new VolumeFormatException($"'{path}': Segment{index}_Layer '{layerText}' is not a whole number");
            }

            var id = entries.GetValueOrDefault("ID");
            var name = entries.GetValueOrDefault("Name") ?? id ?? $"Segment {index}";
            segments.Add(new NrrdSegmentInfo(name, label) { Layer = layer, Id = id, Color = ParseColor(entries.GetValueOrDefault("Color")) });
        }

        return segments;
    }

    /// <summary>Checks that <paramref name="segments"/> can describe <paramref name="volume"/> as a 3-D Slicer label map.</summary>
    public static void Validate(Volume volume, IReadOnlyList<NrrdSegmentInfo> segments)
    {
        if (volume.Type.IsFloatingPoint())
        {
            throw new ArgumentException($"segment metadata needs an integer label map, not {volume.Type} voxels", nameof(segments));
        }

        (long Min, long Max) range = volume.Type switch
        {
            VoxelType.UInt8 => (byte.MinValue, byte.MaxValue),
            VoxelType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
            VoxelType.UInt16 => (ushort.MinValue, ushort.MaxValue),
            VoxelType.Int16 => (short.MinValue, short.MaxValue),
            _ => (long.MinValue, long.MaxValue),
        };
        var labels = new HashSet<int>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var segment in segments)
        {
            ArgumentNullException.ThrowIfNull(segment, nameof(segments));
            ArgumentNullException.ThrowIfNull(segment.Name, nameof(segments));
            if (segment.LabelValue <= 0 || segment.LabelValue < range.Min || segment.LabelValue > range.Max)
            {
                throw new ArgumentException($"segment '{segment.Name}': label value {segment.LabelValue} must be positive and fit {volume.Type} voxels", nameof(segments));
            }

            if (segment.Layer != 0)
            {
                throw new ArgumentException($"segment '{segment.Name}': layer {segment.Layer}; a 3-D label map has only layer 0", nameof(segments));
            }

            if (!labels.Add(segment.LabelValue))
            {
                throw new ArgumentException($"label value {segment.LabelValue} is used by more than one segment", nameof(segments));
            }

            if (!ids.Add(IdOf(segment)))
            {
                throw new ArgumentException($"segment ID '{IdOf(segment)}' is used by more than one segment", nameof(segments));
            }
        }
    }

    /// <summary>Appends the key/value lines 3D Slicer reads for <paramref name="segments"/> (after <see cref="Validate"/>).</summary>
    public static void Append(StringBuilder header, Volume volume, IReadOnlyList<NrrdSegmentInfo> segments, CancellationToken cancellationToken)
    {
        var extents = Extents(volume, segments, cancellationToken);
        for (var n = 0; n < segments.Count; n++)
        {
            var segment = segments[n];
            var color = segment.Color ?? Palette[n % Palette.Length];
            var e = extents[n];
            KeyValue(header, n, "Color", $"{NrrdValues.Format(color.R)} {NrrdValues.Format(color.G)} {NrrdValues.Format(color.B)}");
            KeyValue(header, n, "ColorAutoGenerated", segment.Color is null ? "1" : "0");
            KeyValue(header, n, "Extent", string.Join(' ', e));
            KeyValue(header, n, "ID", IdOf(segment));
            KeyValue(header, n, "LabelValue", segment.LabelValue.ToString(CultureInfo.InvariantCulture));
            KeyValue(header, n, "Layer", "0");
            KeyValue(header, n, "Name", segment.Name);
            KeyValue(header, n, "NameAutoGenerated", "0");
        }

        header.Append("Segmentation_ContainedRepresentationNames:=Binary labelmap|\n");
        header.Append("Segmentation_MasterRepresentation:=Binary labelmap\n");
        header.Append("Segmentation_SourceRepresentation:=Binary labelmap\n");
        header.Append("Segmentation_ReferenceImageExtentOffset:=0 0 0\n");
    }

    private static string IdOf(NrrdSegmentInfo segment) => segment.Id ?? $"Segment_{segment.LabelValue.ToString(CultureInfo.InvariantCulture)}";

    private static void KeyValue(StringBuilder header, int n, string key, string value)
        => header.Append(CultureInfo.InvariantCulture, $"{Prefix}{n}_{key}:={NrrdValues.Escape(value)}\n");

    private static SegmentColor? ParseColor(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var words = NrrdValues.Words(text);
        var rgb = new double[3];
        if (words.Length != 3 || Enumerable.Range(0, 3).Any(c => !NrrdValues.TryParseDouble(words[c], out rgb[c]) || !double.IsFinite(rgb[c])))
        {
            return null;
        }

        return new SegmentColor(rgb[0], rgb[1], rgb[2]);
    }

    /// <summary>Each segment's bounding box "iMin iMax jMin jMax kMin kMax" in voxels ("0 -1 0 -1 0 -1" when empty), as Slicer writes it.</summary>
    private static int[][] Extents(Volume volume, IReadOnlyList<NrrdSegmentInfo> segments, CancellationToken cancellationToken)
    {
        var index = new Dictionary<long, int>();
        var extents = new int[segments.Count][];
        for (var n = 0; n < segments.Count; n++)
        {
            index[segments[n].LabelValue] = n;
            extents[n] = [int.MaxValue, -1, int.MaxValue, -1, int.MaxValue, -1];
        }

        var size = volume.Geometry.Size;
        var values = new double[size.SliceVoxels];
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            volume.CopySlice(k, values);
            var last = double.NaN;
            var lastSegment = -1;
            for (var v = 0; v < values.Length; v++)
            {
                var value = values[v];
                if (value != last)
                {
                    last = value;
                    lastSegment = index.GetValueOrDefault((long)value, -1);
                }

                if (lastSegment >= 0)
                {
                    var e = extents[lastSegment];
                    int i = v % size.I, j = v / size.I;
                    e[0] = Math.Min(e[0], i);
                    e[1] = Math.Max(e[1], i);
                    e[2] = Math.Min(e[2], j);
                    e[3] = Math.Max(e[3], j);
                    e[4] = Math.Min(e[4], k);
                    e[5] = k;
                }
            }
        }

        foreach (var e in extents)
        {
            if (e[1] < 0)
            {
                e[0] = e[2] = e[4] = 0;
                e[1] = e[3] = e[5] = -1;
            }
        }

        return extents;
    }
}
