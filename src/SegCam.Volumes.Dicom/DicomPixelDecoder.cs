#if SEGCAM_GDCM
using SegCam.Common.Errors;

namespace SegCam.Volumes.Dicom;

/// <summary>
/// Decodes one slice's pixel data with GDCM's codecs: native little/big endian, deflate and the compressed
/// transfer syntaxes GDCM was built with (Debian: JPEG baseline/extended/lossless, JPEG-LS via CharLS,
/// JPEG 2000 via OpenJPEG, RLE). GDCM hands back native-endian (little-endian) words.
/// </summary>
/// <remarks>
/// The image is assembled from the header fields the series plan has already checked (size, bit layout,
/// photometric interpretation, transfer syntax) and the Pixel Data element, instead of going through
/// gdcm.ImageReader: ImageReader also derives geometry per SOP class in GDCM's ImageHelper, whose assertions
/// (compiled into Debian's build) abort the whole process on some legal but unusual files, e.g. a single-frame
/// RT Dose without NumberOfFrames. The codecs are the same either way; the buffers are byte-identical on
/// pydicom's test files.
/// </remarks>
internal static class DicomPixelDecoder
{
    private const string ImplicitVrBigEndianPrivateGe = "1.2.840.113619.5.2";
    private const string ExplicitVrBigEndian = "1.2.840.10008.1.2.2";

    /// <summary>The stored values of <paramref name="slice"/>.</summary>
    public static StoredPixels Decode(DicomSliceHeader slice)
    {
        ArgumentNullException.ThrowIfNull(slice);
        StoredPixels.CheckLayout(slice.BitsAllocated, slice.BitsStored, slice.HighBit, slice.Name);
        if (slice.PixelRepresentation is not (0 or 1))
        {
            throw new VolumeFormatException($"'{slice.Name}': PixelRepresentation {slice.PixelRepresentation} is neither 0 (unsigned) nor 1 (signed)");
        }

        using var reader = new gdcm.Reader();
        reader.SetFileName(slice.Path);
        bool read;
        try
        {
            read = reader.Read();
        }
        catch (ApplicationException e)
        {
            throw new VolumeFormatException($"'{slice.Name}': GDCM cannot read the file: {e.Message}", e);
        }

        if (!read)
        {
            throw new VolumeFormatException($"'{slice.Name}': GDCM cannot read the file");
        }

        var file = reader.GetFile();
        var dataSet = file.GetDataSet();
        using var pixelTag = new gdcm.Tag(0x7FE0, 0x0010);
        if (!dataSet.FindDataElement(pixelTag) || dataSet.GetDataElement(pixelTag).IsEmpty())
        {
            throw new VolumeFormatException($"'{slice.Name}' has no pixel data");
        }

        using var syntax = file.GetHeader().GetDataSetTransferSyntax();
        var syntaxUid = syntax.GetString()?.Trim('\0', ' ');
        using var image = new gdcm.Image();
        image.SetNumberOfDimensions(2);
        image.SetDimension(0, (uint)slice.Columns);
        image.SetDimension(1, (uint)slice.Rows);
        using (var format = new gdcm.PixelFormat(1, (ushort)slice.BitsAllocated, (ushort)slice.BitsStored, (ushort)slice.HighBit, (ushort)slice.PixelRepresentation))
        {
            image.SetPixelFormat(format);
        }

        using (var photometric = new gdcm.PhotometricInterpretation(slice.PhotometricInterpretation == "MONOCHROME1"
                   ? gdcm.PhotometricInterpretation.PIType.MONOCHROME1
                   : gdcm.PhotometricInterpretation.PIType.MONOCHROME2))
        {
            image.SetPhotometricInterpretation(photometric);
        }

        image.SetTransferSyntax(syntax);
        image.SetNeedByteSwap(syntaxUid == ImplicitVrBigEndianPrivateGe);
        image.SetDataElement(dataSet.GetDataElement(pixelTag));

        var count = checked(slice.Rows * slice.Columns);
        var expected = (long)count * slice.BitsAllocated / 8;
        var length = image.GetBufferLength();
        if (length != expected)
        {
            throw new VolumeFormatException($"'{slice.Name}': GDCM decodes {length} bytes, {expected} expected");
        }

        var data = new byte[length];
        bool decoded;
        try
        {
            decoded = image.GetBuffer(data);
        }
        catch (ApplicationException e)
        {
            throw new VolumeFormatException($"'{slice.Name}': GDCM cannot decode the pixel data (transfer syntax {syntaxUid}): {e.Message}", e);
        }

        if (!decoded)
        {
            throw new VolumeFormatException($"'{slice.Name}': GDCM cannot decode the pixel data (transfer syntax {syntaxUid}); is this GDCM built with that codec?");
        }

        if (syntaxUid == ExplicitVrBigEndian && slice.BitsAllocated == 32)
        {
            // GDCM byte-swaps big-endian OW pixel data as 16-bit words, which leaves the two halves of each
            // 32-bit value in big-endian order (pydicom's rtdose_expb_1frame.dcm reads 0x0EE80013 for 0x00130EE8).
            SwapHalves(data);
        }

        return new StoredPixels(data, count, slice.BitsAllocated, slice.BitsStored, slice.HighBit, slice.PixelRepresentation == 1, slice.Name);
    }

    private static void SwapHalves(byte[] data)
    {
        for (var at = 0; at + 3 < data.Length; at += 4)
        {
            (data[at], data[at + 1], data[at + 2], data[at + 3]) = (data[at + 2], data[at + 3], data[at], data[at + 1]);
        }
    }
}
#endif
