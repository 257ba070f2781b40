using System.Globalization;
using System.Text;
using SegCam.Common.Errors;

namespace SegCam.Common.Tensors;

/// <summary>A value of the small subset of Python literal syntax that .npy headers use.</summary>
internal abstract record PyValue
{
    /// <summary>The literal as it appears in the header, for messages.</summary>
    public string Source { get; set; } = "";

    /// <summary>A user-facing name of the value's kind ("string", "int", "tuple", ...).</summary>
    public abstract string KindName { get; }
}

internal sealed record PyString(string Value) : PyValue
{
    public override string KindName => "string";
}

internal sealed record PyBool(bool Value) : PyValue
{
    public override string KindName => "bool";
}

internal sealed record PyNone : PyValue
{
    public override string KindName => "None";
}

/// <summary>An integer literal; <see cref="Value"/> is null when it does not fit in a long.</summary>
internal sealed record PyInt(long? Value, bool Negative) : PyValue
{
    public override string KindName => "int";
}

/// <summary>A numeric literal that is not an integer (a float, or something malformed like 1x).</summary>
internal sealed record PyOtherNumber : PyValue
{
    public override string KindName => "number";
}

internal sealed record PySequence(bool IsTuple, IReadOnlyList<PyValue> Items) : PyValue
{
    public override string KindName => IsTuple ? "tuple" : "list";
}

internal sealed record PyDict(IReadOnlyList<KeyValuePair<PyValue, PyValue>> Entries) : PyValue
{
    public override string KindName => "dict";
}

/// <summary>
/// Parses Python literals: dicts, tuples, lists, strings, ints, floats, True, False and None. No code is evaluated,
/// nesting is bounded, and every failure is an <see cref="ArrayFormatException"/> naming the file.
/// </summary>
internal sealed class PyLiteralParser
{
    internal const int MaxDepth = 32;
    internal const string Example = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

    private readonly string _text;
    private readonly string _displayName;
    private int _pos;

    private PyLiteralParser(string text, string displayName)
    {
        _text = text;
        _displayName = displayName;
    }

    /// <summary>Parses exactly one literal, allowing whitespace around it.</summary>
    public static PyValue Parse(string text, string displayName)
    {
        var parser = new PyLiteralParser(text, displayName);
        PyValue value = parser.ParseValue(0);
        parser.SkipWhitespace();
        if (parser._pos != text.Length)
        {
            throw parser.Error($"unexpected {Describe(text[parser._pos])} after the end of the literal");
        }

        return value;
    }

    /// <summary>A printable, bounded rendering of header text for messages.</summary>
    internal static string Excerpt(string text, int max = 80)
    {
        var sb = new StringBuilder();
        foreach (char c in text.Length > max ? text[..max] : text)
        {
            if (c is >= ' ' and <= '~')
            {
                sb.Append(c);
            }
            else
            {
                sb.Append(c switch
                {
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    _ => $"\\u{(int)c:x4}",
                });
            }
        }

        if (text.Length > max)
        {
            sb.Append("...");
        }

        return sb.ToString();
    }

    private static string Describe(char c) => c is >= ' ' and <= '~' ? $"'{c}'" : $"character U+{(int)c:X4}";

    private static bool IsWhitespace(char c) => c is ' ' or '\t' or '\n' or '\r' or '\f' or '\v';

    private static bool IsNameStart(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';

    private static bool IsNamePart(char c) => IsNameStart(c) || char.IsAsciiDigit(c);

    private ArrayFormatException Error(string what) => new(
        $"{_displayName}: the header is not a valid Python literal ({what}, at character {_pos}); "
        + $"a .npy header looks like {Example}; header: \"{Excerpt(_text.TrimEnd())}\"");

    private void SkipWhitespace()
    {
        while (_pos < _text.Length && IsWhitespace(_text[_pos]))
        {
            _pos++;
        }
    }

    private PyValue ParseValue(int depth)
    {
        if (depth > MaxDepth)
        {
            throw Error($"nesting deeper than {MaxDepth} levels");
        }

        SkipWhitespace();
        if (_pos >= _text.Length)
        {
            throw Error("unexpected end of header, expected a value");
        }

        int start = _pos;
        char c = _text[_pos];
        PyValue value = c switch
        {
            '{' => ParseDict(depth),
            '(' => ParseParenthesized(depth),
            '[' => ParseSequence(depth, ']', out _),
            '\'' or '"' => ParseString(),
            _ when char.IsAsciiDigit(c) || c is '+' or '-' or '.' => ParseNumber(),
            _ when IsNameStart(c) => ParseName(),
            _ => throw Error($"unexpected {Describe(c)}"),
        };
        if (value.Source.Length == 0)
        {
            value.Source = _text[start.._pos];
        }

        return value;
    }

    private PyDict ParseDict(int depth)
    {
        _pos++; // '{'
        var entries = new List<KeyValuePair<PyValue, PyValue>>();
        while (true)
        {
            SkipWhitespace();
            if (_pos >= _text.Length)
            {
                throw Error("unexpected end of header, expected '}'");
            }

            if (_text[_pos] == '}')
            {
                _pos++;
                return new PyDict(entries);
            }

            PyValue key = ParseValue(depth + 1);
            SkipWhitespace();
            if (_pos >= _text.Length || _text[_pos] != ':')
            {
                throw Error(_pos >= _text.Length ? "unexpected end of header, expected ':'" : $"expected ':' but found {Describe(_text[_pos])}");
            }

            _pos++;
            PyValue value = ParseValue(depth + 1);
            entries.Add(new(key, value));
            SkipWhitespace();
            if (_pos < _text.Length && _text[_pos] == ',')
            {
                _pos++;
                continue;
            }

            if (_pos < _text.Length && _text[_pos] == '}')
            {
                _pos++;
                return new PyDict(entries);
            }

            throw Error(_pos >= _text.Length ? "unexpected end of header, expected ',' or '}'" : $"expected ',' or '}}' but found {Describe(_text[_pos])}");
        }
    }

    /// <summary>A tuple, or a parenthesised single value such as (5), which Python reads as the int 5.</summary>
    private PyValue ParseParenthesized(int depth)
    {
        int start = _pos;
        PySequence tuple = ParseSequence(depth, ')', out bool sawComma);
        if (tuple.Items.Count == 1 && !sawComma)
        {
            PyValue single = tuple.Items[0];
            single.Source = _text[start.._pos];
            return single;
        }

        return tuple;
    }

    /// <summary>A tuple or a list; <paramref name="sawComma"/> tells (5,) from (5).</summary>
    private PySequence ParseSequence(int depth, char close, out bool sawComma)
    {
        _pos++; // '(' or '['
        var items = new List<PyValue>();
        sawComma = false;
        while (true)
        {
            SkipWhitespace();
            if (_pos >= _text.Length)
            {
                throw Error($"unexpected end of header, expected '{close}'");
            }

            if (_text[_pos] == close)
            {
                _pos++;
                break;
            }

            items.Add(ParseValue(depth + 1));
            SkipWhitespace();
            if (_pos < _text.Length && _text[_pos] == ',')
            {
                _pos++;
                sawComma = true;
                continue;
            }

            if (_pos < _text.Length && _text[_pos] == close)
            {
                _pos++;
                break;
            }

            throw Error(_pos >= _text.Length ? $"unexpected end of header, expected ',' or '{close}'" : $"expected ',' or '{close}' but found {Describe(_text[_pos])}");
        }

        return new PySequence(close == ')', items);
    }

    private PyString ParseString()
    {
        char quote = _text[_pos];
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length || _text[_pos] == '\n')
            {
                throw Error("unterminated string");
            }

            char c = _text[_pos++];
            if (c == quote)
            {
                return new PyString(sb.ToString());
            }

            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (_pos >= _text.Length)
            {
                throw Error("unterminated string");
            }

            char escaped = _text[_pos++];
            switch (escaped)
            {
                case '\\' or '\'' or '"': sb.Append(escaped); break;
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                default: sb.Append('\\').Append(escaped); break; // Python keeps unknown escapes as written.
            }
        }
    }

    private PyValue ParseNumber()
    {
        int start = _pos;
        bool negative = false;
        while (_pos < _text.Length && _text[_pos] is '+' or '-')
        {
            negative ^= _text[_pos] == '-';
            _pos++;
        }

        int bodyStart = _pos;
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (IsNamePart(c) || c == '.')
            {
                _pos++;
            }
            else if (c is '+' or '-' && _pos > bodyStart && _text[_pos - 1] is 'e' or 'E')
            {
                _pos++; // exponent sign, as in 1e-3
            }
            else
            {
                break;
            }
        }

        string body = _text[bodyStart.._pos];
        if (body.Length == 0)
        {
            throw Error($"expected a number after '{_text[start..bodyStart]}'");
        }

        // Python 2 wrote long integers with an L suffix, e.g. (3L, 4L); NumPy still reads such headers.
        string digits = body.EndsWith('L') || body.EndsWith('l') ? body[..^1] : body;
        if (!IsDecimalInteger(digits))
        {
            return new PyOtherNumber();
        }

        long? value = 0;
        foreach (char c in digits)
        {
            if (c == '_')
            {
                continue;
            }

            long digit = c - '0';
            value = value is long v && v <= (long.MaxValue - digit) / 10 ? (v * 10) + digit : null;
            if (value is null)
            {
                break;
            }
        }

        return new PyInt(negative ? -value : value, negative);
    }

    /// <summary>Digits with single underscores between them (Python's 1_000).</summary>
    private static bool IsDecimalInteger(string text)
    {
        if (text.Length == 0 || !char.IsAsciiDigit(text[0]) || !char.IsAsciiDigit(text[^1]))
        {
            return false;
        }

        for (int i = 1; i < text.Length; i++)
        {
            char c = text[i];
            if (!(char.IsAsciiDigit(c) || (c == '_' && text[i - 1] != '_')))
            {
                return false;
            }
        }

        return true;
    }

    private PyValue ParseName()
    {
        int start = _pos;
        while (_pos < _text.Length && IsNamePart(_text[_pos]))
        {
            _pos++;
        }

        string name = _text[start.._pos];
        return name switch
        {
            "True" => new PyBool(true),
            "False" => new PyBool(false),
            "None" => new PyNone(),
            _ => throw Error($"unexpected name '{Excerpt(name, 40)}'; only True, False and None are allowed"),
        };
    }

    /// <summary>Formats an int literal's value for messages.</summary>
    internal static string FormatInt(PyInt value) =>
        value.Value is long v ? v.ToString(CultureInfo.InvariantCulture) : value.Source;
}
