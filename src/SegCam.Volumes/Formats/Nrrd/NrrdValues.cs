using System.Globalization;
using System.Text;
using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>Parsing and formatting of NRRD field values: type names, numbers, vectors, quoted strings, key/value escapes.</summary>
internal static class NrrdValues
{
    /// <summary>The voxel type named by a "type" field value (every spelling teem accepts), or throws.</summary>
    public static VoxelType ParseType(string value, string path)
    {
        var name = string.Join(' ', value.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();
        return name switch
        {
            "uchar" or "unsigned char" or "uint8" or "uint8_t" => VoxelType.UInt8,
            "signed char" or "int8" or "int8_t" => VoxelType.Int8,
            "ushort" or "unsigned short" or "unsigned short int" or "uint16" or "uint16_t" => VoxelType.UInt16,
            "short" or "short int" or "signed short" or "signed short int" or "int16" or "int16_t" => VoxelType.Int16,
            "uint" or "unsigned int" or "uint32" or "uint32_t" => VoxelType.UInt32,
            "int" or "signed int" or "int32" or "int32_t" => VoxelType.Int32,
            "float" => VoxelType.Float32,
            "double" => VoxelType.Float64,
            "longlong" or "long long" or "long long int" or "signed long long" or "signed long long int" or "int64" or "int64_t"
                or "ulonglong" or "unsigned long long" or "unsigned long long int" or "uint64" or "uint64_t"
                => throw new VolumeFormatException($"'{path}': NRRD type '{value}' (64-bit integers) is not supported; allowed: 8-, 16- and 32-bit integers, float, double"),
            "block" => throw new VolumeFormatException($"'{path}': NRRD type 'block' (opaque records) is not supported; allowed: 8-, 16- and 32-bit integers, float, double"),
            _ => throw new VolumeFormatException($"'{path}': unknown NRRD type '{value}'"),
        };
    }

    /// <summary>The canonical teem name of <paramref name="type"/>.</summary>
    public static string TypeName(VoxelType type) => type switch
    {
        VoxelType.UInt8 => "unsigned char",
        VoxelType.Int8 => "signed char",
        VoxelType.UInt16 => "unsigned short",
        VoxelType.Int16 => "short",
        VoxelType.UInt32 => "unsigned int",
        VoxelType.Int32 => "int",
        VoxelType.Float32 => "float",
        VoxelType.Float64 => "double",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Parses a decimal number as teem writes it, "nan" and "inf" included.</summary>
    public static bool TryParseDouble(string text, out double value)
    {
        var t = text.Trim();
        switch (t.ToLowerInvariant())
        {
            case "nan" or "+nan" or "-nan":
                value = double.NaN;
                return true;
            case "inf" or "+inf" or "infinity" or "+infinity":
                value = double.PositiveInfinity;
                return true;
            case "-inf" or "-infinity":
                value = double.NegativeInfinity;
                return true;
            default:
                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    /// <summary>Whitespace-separated words of a field value.</summary>
    public static string[] Words(string value) => value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Splits a value into bare words and parenthesised vectors (which may contain spaces).</summary>
    public static List<string> VectorTokens(string value, string path, string field)
    {
        var tokens = new List<string>();
        var at = 0;
        while (at < value.Length)
        {
            if (char.IsWhiteSpace(value[at]))
            {
                at++;
                continue;
            }

            int end;
            if (value[at] == '(')
            {
                end = value.IndexOf(')', at);
                if (end < 0)
                {
                    throw new VolumeFormatException($"'{path}': '{field}' has a vector without a closing parenthesis: '{value}'");
                }

                end++;
            }
            else
            {
                end = at;
                while (end < value.Length && !char.IsWhiteSpace(value[end]) && value[end] != '(')
                {
                    end++;
                }
            }

            tokens.Add(value[at..end]);
            at = end;
        }

        return tokens;
    }

    /// <summary>Parses "(x,y[,z])" with exactly <paramref name="components"/> numbers.</summary>
    public static double[] ParseVector(string token, int components, string path, string field)
    {
        if (token.Length < 2 || token[0] != '(' || token[^1] != ')')
        {
            throw new VolumeFormatException($"'{path}': '{field}' expects vectors like (1,0,0), not '{token}'");
        }

        var parts = token[1..^1].Split(',');
        if (parts.Length != components)
        {
            throw new VolumeFormatException($"'{path}': '{field}' vector {token} has {parts.Length} components; the space has {components} dimensions");
        }

        var result = new double[components];
        for (var c = 0; c < components; c++)
        {
            if (!TryParseDouble(parts[c], out result[c]))
            {
                throw new VolumeFormatException($"'{path}': '{field}' vector {token} holds '{parts[c].Trim()}', which is not a number");
            }
        }

        return result;
    }

    /// <summary>The double-quoted strings of a value such as <c>"mm" "mm" "mm"</c> (bare words are accepted too).</summary>
    public static List<string> QuotedStrings(string value)
    {
        var result = new List<string>();
        var at = 0;
        while (at < value.Length)
        {
            if (char.IsWhiteSpace(value[at]))
            {
                at++;
            }
            else if (value[at] == '"')
            {
                var text = new StringBuilder();
                at++;
                while (at < value.Length && value[at] != '"')
                {
                    if (value[at] == '\\' && at + 1 < value.Length)
                    {
                        at++;
                    }

                    text.Append(value[at++]);
                }

                at++;
                result.Add(text.ToString());
            }
            else
            {
                var end = at;
                while (end < value.Length && !char.IsWhiteSpace(value[end]))
                {
                    end++;
                }

                result.Add(value[at..end]);
                at = end;
            }
        }

        return result;
    }

    /// <summary>A double in the shortest form that reads back to the same value.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A vector as NRRD writes it: (x,y,z).</summary>
    public static string Format(Vector3 v) => $"({Format(v.X)},{Format(v.Y)},{Format(v.Z)})";

    /// <summary>Undoes the escapes of a key/value value: \n is a newline and \\ a backslash.</summary>
    public static string Unescape(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        var result = new StringBuilder(value.Length);
        for (var at = 0; at < value.Length; at++)
        {
            if (value[at] == '\\' && at + 1 < value.Length && value[at + 1] is 'n' or '\\')
            {
                result.Append(value[++at] == 'n' ? '\n' : '\\');
            }
            else
            {
                result.Append(value[at]);
            }
        }

        return result.ToString();
    }

    /// <summary>Escapes a key/value value so it stays on one header line.</summary>
    public static string Escape(string value)
        => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
