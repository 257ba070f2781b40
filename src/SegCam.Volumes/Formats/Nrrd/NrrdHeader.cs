using System.Text;
using SegCam.Common.Errors;

namespace SegCam.Volumes.Formats.Nrrd;

/// <summary>
/// The text header of a NRRD file as written: its fields and key/value pairs, read line by line up to the blank line
/// that separates it from attached data (or to the end of a detached header). Nothing is interpreted here.
/// </summary>
internal sealed class NrrdHeader
{
    /// <summary>The longest header accepted: a file without a blank line in its first MiB is rejected.</summary>
    public const int MaxBytes = 1 << 20;

    private const string Magic = "NRRD000";

    private readonly Dictionary<string, string> _fields;

    private NrrdHeader(int version, Dictionary<string, string> fields, List<KeyValuePair<string, string>> keyValues, bool endsWithBlankLine)
    {
        Version = version;
        _fields = fields;
        KeyValues = keyValues;
        EndsWithBlankLine = endsWithBlankLine;
    }

    /// <summary>Format version from the magic line (1 to 5).</summary>
    public int Version { get; }

    /// <summary>The <c>key:=value</c> pairs in file order, values unescaped.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> KeyValues { get; }

    /// <summary>True when a blank line ended the header (attached data may follow); false when the file ended first.</summary>
    public bool EndsWithBlankLine { get; }

    /// <summary>
    /// The value of a field by name: lower case without spaces ("spacedirections"), so every spelling teem accepts
    /// ("space directions", "datafile", …) is found; null when absent.
    /// </summary>
    public string? Field(string key) => _fields.GetValueOrDefault(key);

    /// <summary>True when the header holds the field.</summary>
    public bool Has(string key) => _fields.ContainsKey(key);

    /// <summary>
    /// Reads the header from the current position of <paramref name="stream"/> (which must be seekable), leaving it at
    /// the first byte after the header.
    /// </summary>
    public static NrrdHeader Read(Stream stream, string path)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var origin = stream.Position;
        var reader = new LineReader(stream, path);
        var start = reader.Peek(8);
        if (start.Length == 0)
        {
            throw new VolumeFormatException($"'{path}' is empty, not a NRRD file");
        }

        var magic = Encoding.ASCII.GetString(start);
        if (start.Length < 8 || !magic.StartsWith(Magic, StringComparison.Ordinal) || magic[7] is < '1' or > '5')
        {
            throw new VolumeFormatException($"'{path}' is not a NRRD file: it does not start with NRRD0001 … NRRD0005");
        }

        var first = reader.Next();
        if (first is not null && first != magic)
        {
            throw new VolumeFormatException($"'{path}' is not a NRRD file: the magic line '{Shorten(first)}' has extra characters");
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var keyValues = new List<KeyValuePair<string, string>>();
        var blankLine = false;
        while (reader.Next() is { } text)
        {
            if (text.Length == 0)
            {
                blankLine = reader.EndedWithNewline;
                break;
            }

            if (text[0] == '#')
            {
                continue;
            }

            var field = text.IndexOf(": ", StringComparison.Ordinal);
            var keyValue = text.IndexOf(":=", StringComparison.Ordinal);
            if (keyValue >= 0 && (field < 0 || keyValue < field))
            {
                keyValues.Add(new(text[..keyValue], NrrdValues.Unescape(text[(keyValue + 2)..])));
                continue;
            }

            if (field < 0 && keyValue < 0 && text.Length > 1 && text[^1] == ':')
            {
                field = text.Length - 1;
                text += " ";
            }

            if (field <= 0)
            {
                throw new VolumeFormatException($"'{path}': header line '{Shorten(text)}' is neither a field (\"name: value\"), a key/value pair (\"key:=value\") nor a comment");
            }

            var name = Canonical(text[..field]);
            if (!fields.TryAdd(name, text[(field + 2)..].Trim()))
            {
                throw new VolumeFormatException($"'{path}': header field '{text[..field]}' appears more than once");
            }
        }

        stream.Position = origin + reader.Consumed;
        return new NrrdHeader(magic[7] - '0', fields, keyValues, blankLine);
    }

    /// <summary>A field name in the form <see cref="Field"/> looks up: lower case, spaces removed, synonyms merged.</summary>
    private static string Canonical(string name)
    {
        var key = name.Replace(" ", string.Empty, StringComparison.Ordinal).Replace("\t", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
        return key switch
        {
            "size" => "sizes",
            "centerings" => "centers",
            _ => key,
        };
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>Splits the start of a stream into lines, reading it in growing blocks up to <see cref="MaxBytes"/>.</summary>
    private sealed class LineReader(Stream stream, string path)
    {
        private byte[] _buffer = new byte[4096];
        private int _filled;
        private bool _end;

        /// <summary>Bytes of the lines returned so far, line endings included.</summary>
        public int Consumed { get; private set; }

        /// <summary>True when the last line returned ended with a newline (rather than the end of the stream).</summary>
        public bool EndedWithNewline { get; private set; }

        /// <summary>Up to <paramref name="count"/> bytes at the current position, without consuming them.</summary>
        public byte[] Peek(int count)
        {
            while (_filled - Consumed < count && Fill())
            {
            }

            return _buffer.AsSpan(Consumed, Math.Min(count, _filled - Consumed)).ToArray();
        }

        /// <summary>The next line without its line ending (LF or CRLF), or null at the end of the stream.</summary>
        public string? Next()
        {
            var searched = Consumed;
            while (true)
            {
                var newline = _buffer.AsSpan(searched, _filled - searched).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    return Take(searched + newline - Consumed, 1);
                }

                searched = _filled;
                if (!Fill())
                {
                    if (_filled == Consumed)
                    {
                        return null;
                    }

                    return Take(_filled - Consumed, 0);
                }
            }
        }

        private string Take(int length, int newline)
        {
            var line = _buffer.AsSpan(Consumed, length);
            Consumed += length + newline;
            EndedWithNewline = newline == 1;
            if (line.Length > 0 && line[^1] == '\r')
            {
                line = line[..^1];
            }

            return Encoding.UTF8.GetString(line);
        }

        /// <summary>Reads more of the stream; false at its end. Throws once the header would pass <see cref="MaxBytes"/>.</summary>
        private bool Fill()
        {
            if (_end)
            {
                return false;
            }

            if (_filled == _buffer.Length)
            {
                if (_buffer.Length >= MaxBytes)
                {
                    throw new VolumeFormatException($"'{path}': the NRRD header is longer than {MaxBytes:N0} bytes (no blank line ends it); the file is damaged or not a NRRD file");
                }

                Array.Resize(ref _buffer, Math.Min(_buffer.Length * 4, MaxBytes));
            }

            var n = stream.Read(_buffer, _filled, _buffer.Length - _filled);
            if (n == 0)
            {
                _end = true;
                return false;
            }

            _filled += n;
            return true;
        }
    }
}
