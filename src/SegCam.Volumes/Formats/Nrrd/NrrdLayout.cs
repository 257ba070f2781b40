using System.Globalization;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>
/// What a NRRD header means for this project: voxel type, storage of the voxel bytes and the voxel grid in LPS.
/// Every size is checked against the limits here, before anything is allocated or read.
/// </summary>
/// <param name="Type">Voxel type.</param>
/// <param name="Encoding">How the voxel bytes are stored.</param>
/// <param name="BigEndian">True when multi-byte voxels are stored most significant byte first.</param>
/// <param name="Geometry">The voxel grid in LPS.</param>
/// <param name="DataFile">Full path of the detached data file, or null when the data follows the header.</param>
/// <param name="ByteSkip">Bytes to skip before the voxels (after decompression for gzip); −1: the voxels end the file (raw only).</param>
/// <param name="LineSkip">Lines to skip at the start of the data (before decompression).</param>
internal sealed record NrrdLayout(VoxelType Type, NrrdEncoding Encoding, bool BigEndian, VolumeGeometry Geometry, string? DataFile, long ByteSkip, long LineSkip)
{
    private const string Multilayer = "multi-component images (colours, vectors, time series) and 3D Slicer segmentations whose segments overlap "
        + "(a 4-D .seg.nrrd with several layers) are not supported; in Slicer, make the segments non-overlapping so they share one layer, or export a label map";

    private enum Frame
    {
        Lps,
        Ras,
        Las,
    }

    /// <summary>Bytes of voxel data the header promises.</summary>
    public long DataBytes => Geometry.Size.Voxels * Type.Size();

    /// <summary>Interprets <paramref name="header"/> of the file at <paramref name="path"/>; throws on anything unsupported.</summary>
    public static NrrdLayout Interpret(NrrdHeader header, string path, VolumeLimits limits)
    {
        var type = NrrdValues.ParseType(Require(header, "type", "type", path), path);
        var dimensionText = Require(header, "dimension", "dimension", path);
        if (!int.TryParse(dimensionText, NumberStyles.None, CultureInfo.InvariantCulture, out var dimension) || dimension is < 2 or > 4)
        {
            throw new VolumeFormatException($"'{path}': NRRD dimension '{dimensionText}' is not supported; allowed: 3, 2 (one slice), or 4 when one axis has a single value");
        }

        var sizes = ParseSizes(Require(header, "sizes", "sizes", path), dimension, path, limits);
        var (spaceDimension, frame) = ParseSpace(header, path);
        var directions = header.Field("spacedirections") is { } directionText ? ParseDirections(directionText, dimension, spaceDimension, path) : null;
        var kinds = header.Field("kinds") is { } kindText ? NrrdValues.Words(kindText) : null;
        if (kinds is not null && kinds.Length != dimension)
        {
            throw new VolumeFormatException($"'{path}': 'kinds' names {kinds.Length} axes, but the dimension is {dimension}");
        }

        var spatial = new List<int>();
        for (var a = 0; a < dimension; a++)
        {
            var isSpatial = directions is not null ? directions[a] is not null
                : kinds is not null ? IsSpatialKind(kinds[a])
                : !(dimension == 4 && a == 0);
            if (isSpatial)
            {
                spatial.Add(a);
            }
            else if (sizes[a] != 1)
            {
                throw new VolumeFormatException($"'{path}': axis {a} ({(kinds is null ? "no space direction" : $"kind '{kinds[a]}'")}) holds {sizes[a]} values per voxel; {Multilayer}");
            }
        }

        if (spatial.Count is < 2 or > 3)
        {
            throw new VolumeFormatException($"'{path}': the image has {spatial.Count} spatial axes; allowed: 2 or 3");
        }

        var size = new GridSize((int)sizes[spatial[0]], (int)sizes[spatial[1]], spatial.Count == 3 ? (int)sizes[spatial[2]] : 1);
        limits.Check(size, type, $"'{path}'");

        var encoding = ParseEncoding(Require(header, "encoding", "encoding", path), path);
        var bigEndian = false;
        if (type.Size() > 1 && encoding != NrrdEncoding.Ascii)
        {
            var endian = Require(header, "endian", "endian (required for multi-byte binary data)", path);
            bigEndian = endian.ToLowerInvariant() switch
            {
                "little" => false,
                "big" => true,
                _ => throw new VolumeFormatException($"'{path}': endian '{endian}' is invalid; allowed: little, big"),
            };
        }

        var byteSkip = ParseSkip(header, "byteskip", "byte skip", path);
        if (byteSkip == -1 && encoding != NrrdEncoding.Raw)
        {
            throw new VolumeFormatException($"'{path}': byte skip -1 (data at the end of the file) is only possible with raw encoding, not {encoding.ToString().ToLowerInvariant()}");
        }

        var lineSkip = ParseSkip(header, "lineskip", "line skip", path);
        if (lineSkip < 0)
        {
            throw new VolumeFormatException($"'{path}': line skip {lineSkip} is invalid; it must be 0 or more");
        }

        var geometry = BuildGeometry(header, path, size, sizes, spatial, directions, spaceDimension, frame);
        return new NrrdLayout(type, encoding, bigEndian, geometry, ParseDataFile(header, path), byteSkip, lineSkip);
    }

    private static string Require(NrrdHeader header, string key, string name, string path)
        => header.Field(key) ?? throw new VolumeFormatException($"'{path}': the NRRD header has no '{name}' field");

    private static long[] ParseSizes(string text, int dimension, string path, VolumeLimits limits)
    {
        var words = NrrdValues.Words(text);
        if (words.Length != dimension)
        {
            throw new VolumeFormatException($"'{path}': 'sizes: {text}' has {words.Length} values, but the dimension is {dimension}");
        }

        var sizes = new long[dimension];
        for (var a = 0; a < dimension; a++)
        {
            if (!long.TryParse(words[a], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out sizes[a]))
            {
                if (words[a].Length > 0 && words[a].All(char.IsAsciiDigit))
                {
                    throw new ResourceLimitException($"'{path}': axis {a} has {words[a]} voxels; at most {limits.MaxAxis} are allowed");
                }

                throw new VolumeFormatException($"'{path}': size '{words[a]}' of axis {a} is not a whole number");
            }

            if (sizes[a] < 1)
            {
                throw new VolumeFormatException($"'{path}': size {sizes[a]} of axis {a} is invalid; every axis needs at least one voxel");
            }

            if (sizes[a] > limits.MaxAxis)
            {
                throw new ResourceLimitException($"'{path}': axis {a} has {sizes[a]} voxels; at most {limits.MaxAxis} are allowed");
            }
        }

        return sizes;
    }

    private static (int Dimension, Frame Frame) ParseSpace(NrrdHeader header, string path)
    {
        var space = header.Field("space");
        var spaceDimension = header.Field("spacedimension");
        if (space is null)
        {
            if (spaceDimension is not null)
            {
                throw new VolumeFormatException($"'{path}': the header gives a space dimension ({spaceDimension}) but does not name the space, so its axes cannot be related to the patient; allowed spaces: left-posterior-superior, right-anterior-superior, left-anterior-superior");
            }

            foreach (var (key, name) in new[] { ("spacedirections", "space directions"), ("spaceorigin", "space origin") })
            {
                if (header.Has(key))
                {
                    throw new VolumeFormatException($"'{path}': the header gives '{name}' but does not name the space, so its axes cannot be related to the patient; allowed spaces: left-posterior-superior, right-anterior-superior, left-anterior-superior");
                }
            }

            return (3, Frame.Lps);
        }

        var frame = space.ToLowerInvariant() switch
        {
            "left-posterior-superior" or "lps" => Frame.Lps,
            "right-anterior-superior" or "ras" => Frame.Ras,
            "left-anterior-superior" or "las" => Frame.Las,
            "left-posterior-superior-time" or "lpst" or "right-anterior-superior-time" or "rast" or "left-anterior-superior-time" or "last"
                or "scanner-xyz-time" or "3d-right-handed-time" or "3d-left-handed-time"
                => throw new VolumeFormatException($"'{path}': space '{space}' has a time axis; time series are not supported"),
            "scanner-xyz" or "3d-right-handed" or "3d-left-handed"
                => throw new VolumeFormatException($"'{path}': space '{space}' does not say how its axes relate to the patient, so the image cannot be placed in LPS; allowed spaces: left-posterior-superior, right-anterior-superior, left-anterior-superior"),
            _ => throw new VolumeFormatException($"'{path}': unknown space '{space}'; allowed: left-posterior-superior, right-anterior-superior, left-anterior-superior"),
        };
        if (spaceDimension is not null && spaceDimension.Trim() != "3")
        {
            throw new VolumeFormatException($"'{path}': space dimension {spaceDimension} contradicts space '{space}' (3 dimensions)");
        }

        return (3, frame);
    }

    private static double[]?[] ParseDirections(string text, int dimension, int spaceDimension, string path)
    {
        var tokens = NrrdValues.VectorTokens(text, path, "space directions");
        if (tokens.Count != dimension)
        {
            throw new VolumeFormatException($"'{path}': 'space directions' has {tokens.Count} entries, but the dimension is {dimension}");
        }

        var result = new double[]?[dimension];
        for (var a = 0; a < dimension; a++)
        {
            if (tokens[a].Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var v = NrrdValues.ParseVector(tokens[a], spaceDimension, path, "space directions");
            if (!v.All(double.IsFinite))
            {
                throw new VolumeFormatException($"'{path}': space direction {tokens[a]} of axis {a} is not finite");
            }

            result[a] = v;
        }

        return result;
    }

    /// <summary>True for the kinds of a spatial axis (and for unknown kinds, which teem writes for plain arrays).</summary>
    private static bool IsSpatialKind(string kind) => kind.ToLowerInvariant() is "domain" or "space" or "???" or "none";

    private static NrrdEncoding ParseEncoding(string value, string path) => value.ToLowerInvariant() switch
    {
        "raw" => NrrdEncoding.Raw,
        "gzip" or "gz" => NrrdEncoding.Gzip,
        "ascii" or "text" or "txt" => NrrdEncoding.Ascii,
        "bzip2" or "bz2" => throw new VolumeFormatException($"'{path}': encoding '{value}' (bzip2) is not supported; allowed: raw, gzip, ascii (re-save with gzip compression)"),
        "hex" => throw new VolumeFormatException($"'{path}': encoding 'hex' is not supported; allowed: raw, gzip, ascii"),
        _ => throw new VolumeFormatException($"'{path}': unknown encoding '{value}'; allowed: raw, gzip, ascii"),
    };

    private static long ParseSkip(NrrdHeader header, string key, string name, string path)
    {
        var text = header.Field(key);
        if (text is null)
        {
            return 0;
        }

        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < -1)
        {
            throw new VolumeFormatException($"'{path}': {name} '{text}' is invalid; allowed: a whole number ≥ 0{(key == "byteskip" ? ", or -1" : string.Empty)}");
        }

        return value;
    }

    private static string? ParseDataFile(NrrdHeader header, string path)
    {
        var value = header.Field("datafile");
        if (value is null)
        {
            return null;
        }

        var words = NrrdValues.Words(value);
        if (words.Length == 0)
        {
            throw new VolumeFormatException($"'{path}': 'data file' is empty");
        }

        if (words[0] == "LIST")
        {
            throw new VolumeFormatException($"'{path}': 'data file: LIST' (voxels split over several files) is not supported; allowed: one data file");
        }

        if (words.Length >= 4 && words[0].Contains('%', StringComparison.Ordinal))
        {
            throw new VolumeFormatException($"'{path}': 'data file: {value}' (voxels split over numbered files) is not supported; allowed: one data file");
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Path.GetFullPath(Path.Combine(folder, value));
    }

    private static VolumeGeometry BuildGeometry(
        NrrdHeader header, string path, GridSize size, long[] sizes, List<int> spatial, double[]?[]? directions, int spaceDimension, Frame frame)
    {
        var units = ParseUnits(header, spaceDimension, path);
        var vectors = new Vector3[3];
        if (directions is not null)
        {
            for (var n = 0; n < spatial.Count; n++)
            {
                vectors[n] = Scale(ToLps(Vector(directions[spatial[n]]!), frame), units);
            }
        }
        else
        {
            var spacingsText = header.Field("spacings");
            var spacings = spacingsText is null ? null : NrrdValues.Words(spacingsText);
            if (spacings is not null && spacings.Length != sizes.Length)
            {
                throw new VolumeFormatException($"'{path}': 'spacings' has {spacings.Length} values, but the dimension is {sizes.Length}");
            }

            for (var n = 0; n < spatial.Count; n++)
            {
                var spacing = 1.0;
                if (spacings is not null)
                {
                    var word = spacings[spatial[n]];
                    if (!NrrdValues.TryParseDouble(word, out spacing) || spacing == 0 || double.IsInfinity(spacing))
                    {
                        throw new VolumeFormatException($"'{path}': spacing '{word}' of axis {spatial[n]} is invalid; spacings must be finite and non-zero");
                    }

                    if (double.IsNaN(spacing))
                    {
                        spacing = 1;
                    }
                }

                // A negative spacing runs the axis backwards: keep the magnitude, reverse the direction.
                vectors[n] = Direction3.Identity.Column(n) * spacing;
            }
        }

        if (spatial.Count == 2)
        {
            var normal = Vector3.Cross(vectors[0], vectors[1]);
            if (!(normal.Length > 0))
            {
                throw new VolumeFormatException($"'{path}': the two space directions {vectors[0]} and {vectors[1]} are parallel");
            }

            vectors[2] = normal.Normalized();
        }

        var spacingVector = new double[3];
        var columns = new Vector3[3];
        for (var n = 0; n < 3; n++)
        {
            var length = vectors[n].Length;
            if (!(length > 0) || !double.IsFinite(length))
            {
                throw new VolumeFormatException($"'{path}': space direction {vectors[n]} of axis {spatial[Math.Min(n, spatial.Count - 1)]} has no length; spacings must be positive");
            }

            spacingVector[n] = length;
            columns[n] = vectors[n] * (1 / length);
        }

        var direction = new Direction3(columns[0], columns[1], columns[2]);
        if (direction.OrthonormalityError() > VolumeGeometry.DirectionTolerance)
        {
            throw new VolumeFormatException($"'{path}': the space directions {vectors[0]} {vectors[1]} {vectors[2]} (LPS) are not orthogonal; sheared voxel grids are not supported");
        }

        var origin = default(Vector3);
        if (header.Field("spaceorigin") is { } originText)
        {
            var tokens = NrrdValues.VectorTokens(originText, path, "space origin");
            if (tokens.Count != 1)
            {
                throw new VolumeFormatException($"'{path}': 'space origin: {originText}' must be one vector like (0,0,0)");
            }

            var o = NrrdValues.ParseVector(tokens[0], spaceDimension, path, "space origin");
            if (!o.All(double.IsFinite))
            {
                throw new VolumeFormatException($"'{path}': space origin {originText} is not finite");
            }

            origin = Scale(ToLps(Vector(o), frame), units);
        }

        try
        {
            return new VolumeGeometry(size, new Vector3(spacingVector[0], spacingVector[1], spacingVector[2]), origin, direction);
        }
        catch (VolumeFormatException ex)
        {
            throw new VolumeFormatException($"'{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Millimetres per unit along each world axis, from "space units" (millimetres when absent).</summary>
    private static Vector3 ParseUnits(NrrdHeader header, int spaceDimension, string path)
    {
        if (header.Field("spaceunits") is not { } text)
        {
            return new Vector3(1, 1, 1);
        }

        var units = NrrdValues.QuotedStrings(text);
        if (units.Count != spaceDimension)
        {
            throw new VolumeFormatException($"'{path}': 'space units' has {units.Count} entries; the space has {spaceDimension} dimensions");
        }

        var factors = units.Select(unit => unit.Trim().ToLowerInvariant() switch
        {
            "" or "mm" or "millimeter" or "millimeters" or "millimetre" or "millimetres" => 1.0,
            "cm" or "centimeter" or "centimeters" or "centimetre" or "centimetres" => 10.0,
            "m" or "meter" or "meters" or "metre" or "metres" => 1000.0,
            "um" or "µm" or "micron" or "microns" or "micrometer" or "micrometers" or "micrometre" or "micrometres" => 1e-3,
            _ => throw new VolumeFormatException($"'{path}': space unit '{unit}' is not a length unit this reader knows; allowed: mm, cm, m, um"),
        }).ToArray();
        return new Vector3(factors[0], factors[1], factors[2]);
    }

    private static Vector3 Vector(double[] v) => new(v[0], v[1], v[2]);

    private static Vector3 Scale(Vector3 v, Vector3 units) => new(v.X * units.X, v.Y * units.Y, v.Z * units.Z);

    /// <summary>LPS coordinates of a vector given in <paramref name="frame"/>: RAS negates x and y, LAS negates y.</summary>
    private static Vector3 ToLps(Vector3 v, Frame frame) => frame switch
    {
        Frame.Lps => v,
        Frame.Ras => v.FlipLpsRas(),
        Frame.Las => new Vector3(v.X, -v.Y, v.Z),
        _ => throw new ArgumentOutOfRangeException(nameof(frame), frame, null),
    };
}
