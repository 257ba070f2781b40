using System.Globalization;
using SegCam.Common.Errors;

namespace SegCam.Common.Tensors;

/// <summary>The three facts a .npy header dict declares, validated.</summary>
internal sealed record NpyHeader(NpyDType DType, bool BigEndian, bool FortranOrder, int[] Shape)
{
    private const string DescrKey = "descr";
    private const string FortranKey = "fortran_order";
    private const string ShapeKey = "shape";
    private const string RequiredKeys = "'descr', 'fortran_order', 'shape'";

    /// <summary>Parses and validates the header text (the dict literal plus padding).</summary>
    public static NpyHeader Parse(string text, string displayName)
    {
        PyValue parsed = PyLiteralParser.Parse(text, displayName);
        if (parsed is not PyDict dict)
        {
            throw new ArrayFormatException(
                $"{displayName}: the header is a {parsed.KindName} literal, not a dict; a .npy header looks like "
                + $"{PyLiteralParser.Example}; header: \"{PyLiteralParser.Excerpt(text.TrimEnd())}\"");
        }

        PyValue? descr = null;
        PyValue? fortran = null;
        PyValue? shape = null;
        foreach ((PyValue keyValue, PyValue value) in dict.Entries)
        {
            if (keyValue is not PyString { Value: var key })
            {
                throw new ArrayFormatException(
                    $"{displayName}: header key {PyLiteralParser.Excerpt(keyValue.Source, 40)} is a {keyValue.KindName}; "
                    + $"keys must be the strings {RequiredKeys}");
            }

            ref PyValue? slot = ref descr;
            switch (key)
            {
                case DescrKey: slot = ref descr; break;
                case FortranKey: slot = ref fortran; break;
                case ShapeKey: slot = ref shape; break;
                default:
                    throw new ArrayFormatException(
                        $"{displayName}: the header has an unexpected key '{PyLiteralParser.Excerpt(key, 40)}'; "
                        + $"allowed keys: {RequiredKeys}");
            }

            if (slot is not null)
            {
                throw new ArrayFormatException($"{displayName}: the header has the key '{key}' more than once; each of {RequiredKeys} must appear once");
            }

            slot = value;
        }

        string[] missing = [.. new[] { (DescrKey, descr), (FortranKey, fortran), (ShapeKey, shape) }
            .Where(p => p.Item2 is null).Select(p => $"'{p.Item1}'")];
        if (missing.Length > 0)
        {
            throw new ArrayFormatException(
                $"{displayName}: the header lacks the key{(missing.Length > 1 ? "s" : "")} {string.Join(", ", missing)}; "
                + $"required keys: {RequiredKeys}");
        }

        (NpyDType dtype, bool bigEndian) = ParseDescr(descr!, displayName);
        bool fortranOrder = fortran is PyBool b
            ? b.Value
            : throw new ArrayFormatException(
                $"{displayName}: 'fortran_order' is {PyLiteralParser.Excerpt(fortran!.Source, 40)}; allowed: True or False");
        int[] dims = ParseShape(shape!, displayName);
        return new NpyHeader(dtype, bigEndian, fortranOrder, dims);
    }

    private static (NpyDType, bool) ParseDescr(PyValue descr, string displayName)
    {
        switch (descr)
        {
            case PyString s when NpyDTypeExtensions.TryParseDescr(s.Value, out NpyDType dtype, out bool bigEndian):
                return (dtype, bigEndian);
            case PyString s:
                throw new ArrayFormatException(
                    $"{displayName}: dtype '{PyLiteralParser.Excerpt(s.Value, 40)}' is not supported; allowed: {NpyDTypeExtensions.AllowedList}");
            case PySequence:
                throw new ArrayFormatException(
                    $"{displayName}: structured dtype {PyLiteralParser.Excerpt(descr.Source, 60)} is not supported; "
                    + $"allowed: {NpyDTypeExtensions.AllowedList}");
            default:
                throw new ArrayFormatException(
                    $"{displayName}: 'descr' is {PyLiteralParser.Excerpt(descr.Source, 40)}, not a dtype string such as '<f4'; "
                    + $"allowed: {NpyDTypeExtensions.AllowedList}");
        }
    }

    private static int[] ParseShape(PyValue shape, string displayName)
    {
        if (shape is not PySequence { IsTuple: true } tuple)
        {
            throw new ArrayFormatException(
                $"{displayName}: 'shape' is {PyLiteralParser.Excerpt(shape.Source, 60)}, a {shape.KindName}; "
                + "allowed: a tuple of non-negative integers such as (2, 3), (5,) or ()");
        }

        var dims = new int[tuple.Items.Count];
        for (int axis = 0; axis < dims.Length; axis++)
        {
            PyValue item = tuple.Items[axis];
            if (item is not PyInt dim)
            {
                throw new ArrayFormatException(
                    $"{displayName}: 'shape' {PyLiteralParser.Excerpt(shape.Source, 60)} has {PyLiteralParser.Excerpt(item.Source, 40)} "
                    + $"at axis {axis}; allowed: non-negative integers");
            }

            if (dim.Negative && dim.Value is not 0)
            {
                throw new ArrayFormatException(
                    $"{displayName}: 'shape' {PyLiteralParser.Excerpt(shape.Source, 60)} has the negative dimension "
                    + $"{PyLiteralParser.Excerpt(PyLiteralParser.FormatInt(dim), 40)} at axis {axis}; dimensions must be non-negative");
            }

            if (dim.Value is not long v || v > int.MaxValue)
            {
                throw new ArrayFormatException(
                    $"{displayName}: 'shape' {PyLiteralParser.Excerpt(shape.Source, 60)} has the dimension "
                    + $"{PyLiteralParser.Excerpt(PyLiteralParser.FormatInt(dim), 40)} at axis {axis}; allowed: 0..{int.MaxValue.ToString(CultureInfo.InvariantCulture)} per axis");
            }

            dims[axis] = (int)v;
        }

        return dims;
    }
}
