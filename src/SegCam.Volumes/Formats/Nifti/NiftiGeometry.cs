using SegCam.Common.Errors;
using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Formats.Nifti;

/// <summary>
/// Converts between NIfTI orientation fields (RAS, in the header's spatial unit) and <see cref="VolumeGeometry"/>
/// (LPS, millimetres): sform when sform_code &gt; 0, else qform when qform_code &gt; 0, else the "method 1" fallback
/// (pixdim on the diagonal, origin 0).
/// </summary>
internal static class NiftiGeometry
{
    /// <summary>The geometry <paramref name="header"/> describes for a grid of <paramref name="size"/>.</summary>
    public static VolumeGeometry Decode(NiftiHeader header, GridSize size, string path)
    {
        ArgumentNullException.ThrowIfNull(header);
        var method = header.SformCode > 0 ? "sform" : header.QformCode > 0 ? "qform" : "pixdim (no qform or sform)";
        try
        {
            var unit = MillimetresPerUnit(header.XyztUnits);
            var (spacing, origin, rasDirection) = header.SformCode > 0 ? FromSform(header)
                : header.QformCode > 0 ? FromQform(header)
                : FromPixDim(header);
            return new VolumeGeometry(size, spacing * unit, origin.FlipLpsRas() * unit, rasDirection.FlipLpsRas());
        }
        catch (VolumeFormatException ex)
        {
            throw new VolumeFormatException($"'{path}': invalid NIfTI geometry from the {method}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// <paramref name="header"/> with qform (code 1) and sform (code 1) describing <paramref name="geometry"/> in RAS
    /// millimetres, pixdim[0..3] = qfac and the spacing, and xyzt_units = mm.
    /// </summary>
    public static NiftiHeader Encode(NiftiHeader header, VolumeGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(geometry);
        var direction = geometry.Direction.FlipLpsRas();
        var origin = geometry.Origin.FlipLpsRas();
        var spacing = geometry.Spacing;
        var rows = new double[12];
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                rows[(4 * r) + c] = direction[r, c] * spacing[c];
            }

            rows[(4 * r) + 3] = origin[r];
        }

        var qfac = direction.Determinant < 0 ? -1.0 : 1.0;
        var rotation = qfac < 0 ? direction with { K = direction.K * -1 } : direction;
        return header with
        {
            PixDim = [qfac, spacing.X, spacing.Y, spacing.Z, 1, 1, 1, 1],
            XyztUnits = 2,
            QformCode = 1,
            SformCode = 1,
            Quatern = Quaternion(rotation),
            QOffset = origin,
            SRows = rows,
        };
    }

    /// <summary>Millimetres per unit of the spatial code in xyzt_units bits 0–2: 1 metre, 2 mm, 3 µm; 0 (unknown) is read as mm.</summary>
    public static double MillimetresPerUnit(int xyztUnits) => (xyztUnits & 0x07) switch
    {
        1 => 1000,
        3 => 0.001,
        _ => 1,
    };

    /// <summary>Quaternion (b, c, d), with a ≥ 0, of the proper rotation <paramref name="m"/> (the NIfTI reference algorithm).</summary>
    private static Vector3 Quaternion(Direction3 m)
    {
        double r11 = m[0, 0], r12 = m[0, 1], r13 = m[0, 2];
        double r21 = m[1, 0], r22 = m[1, 1], r23 = m[1, 2];
        double r31 = m[2, 0], r32 = m[2, 1], r33 = m[2, 2];
        double a, b, c, d;
        var trace = r11 + r22 + r33 + 1;
        if (trace > 0.5)
        {
            a = 0.5 * Math.Sqrt(trace);
            b = 0.25 * (r32 - r23) / a;
            c = 0.25 * (r13 - r31) / a;
            d = 0.25 * (r21 - r12) / a;
        }
        else
        {
            var xd = 1 + r11 - (r22 + r33);
            var yd = 1 + r22 - (r11 + r33);
            var zd = 1 + r33 - (r11 + r22);
            if (xd > 1)
            {
                b = 0.5 * Math.Sqrt(xd);
                c = 0.25 * (r12 + r21) / b;
                d = 0.25 * (r13 + r31) / b;
                a = 0.25 * (r32 - r23) / b;
            }
            else if (yd > 1)
            {
                c = 0.5 * Math.Sqrt(yd);
                b = 0.25 * (r12 + r21) / c;
                d = 0.25 * (r23 + r32) / c;
                a = 0.25 * (r13 - r31) / c;
            }
            else
            {
                d = 0.5 * Math.Sqrt(zd);
                b = 0.25 * (r13 + r31) / d;
                c = 0.25 * (r23 + r32) / d;
                a = 0.25 * (r21 - r12) / d;
            }

            if (a < 0)
            {
                b = -b;
                c = -c;
                d = -d;
            }
        }

        return new Vector3(b, c, d);
    }

    private static (Vector3 Spacing, Vector3 Origin, Direction3 Direction) FromSform(NiftiHeader h)
    {
        var r = h.SRows;
        var columns = new Vector3[3];
        var lengths = new double[3];
        for (var a = 0; a < 3; a++)
        {
            var column = new Vector3(r[a], r[4 + a], r[8 + a]);
            lengths[a] = column.Length;
            if (!(lengths[a] > 0) || !double.IsFinite(lengths[a]))
            {
                throw new VolumeFormatException($"column {a} of the affine {Describe(r)} has length {lengths[a]}; every index axis needs a finite, non-zero step");
            }

            columns[a] = column * (1 / lengths[a]);
        }

        for (var a = 0; a < 3; a++)
        {
            for (var b = a + 1; b < 3; b++)
            {
                var cosine = Vector3.Dot(columns[a], columns[b]);
                if (Math.Abs(cosine) > VolumeGeometry.DirectionTolerance)
                {
                    throw new VolumeFormatException(
                        FormattableString.Invariant($"the affine {Describe(r)} is sheared: columns {a} and {b} are not orthogonal (cosine {cosine:G4}); sheared grids are not supported"));
                }
            }
        }

        return (new Vector3(lengths[0], lengths[1], lengths[2]), new Vector3(r[3], r[7], r[11]), new Direction3(columns[0], columns[1], columns[2]));
    }

    private static (Vector3 Spacing, Vector3 Origin, Direction3 Direction) FromQform(NiftiHeader h)
    {
        double b = h.Quatern.X, c = h.Quatern.Y, d = h.Quatern.Z;
        var a = 1 - ((b * b) + (c * c) + (d * d));
        if (a < 1e-7)
        {
            // |(b, c, d)| is (nearly) 1: a 180° rotation; renormalise as the NIfTI reference library does.
            var norm = 1 / Math.Sqrt((b * b) + (c * c) + (d * d));
            b *= norm;
            c *= norm;
            d *= norm;
            a = 0;
        }
        else
        {
            a = Math.Sqrt(a);
        }

        var qfac = h.PixDim[0] < 0 ? -1.0 : 1.0;
        var rotation = new Direction3(
            new Vector3((a * a) + (b * b) - (c * c) - (d * d), 2 * ((b * c) + (a * d)), 2 * ((b * d) - (a * c))),
            new Vector3(2 * ((b * c) - (a * d)), (a * a) + (c * c) - (b * b) - (d * d), 2 * ((c * d) + (a * b))),
            new Vector3(2 * ((b * d) + (a * c)), 2 * ((c * d) - (a * b)), (a * a) + (d * d) - (c * c) - (b * b)) * qfac);
        return (PixDimSpacing(h), h.QOffset, rotation);
    }

    private static (Vector3 Spacing, Vector3 Origin, Direction3 Direction) FromPixDim(NiftiHeader h)
        => (PixDimSpacing(h), default, Direction3.Identity);

    private static Vector3 PixDimSpacing(NiftiHeader h)
    {
        // Axes beyond dim[0] (a 1-D or 2-D image) have one voxel; an unset pixdim there means nothing.
        var spacing = new double[3];
        for (var a = 0; a < 3; a++)
        {
            var value = h.PixDim[a + 1];
            spacing[a] = a + 1 > h.Dim[0] && !(value > 0 && double.IsFinite(value)) ? 1 : value;
        }

        return new Vector3(spacing[0], spacing[1], spacing[2]);
    }

    private static string Describe(IReadOnlyList<double> rows)
        => "[" + string.Join("; ", Enumerable.Range(0, 3).Select(r => string.Join(", ", Enumerable.Range(0, 4).Select(c => rows[(4 * r) + c].ToString("G6", System.Globalization.CultureInfo.InvariantCulture))))) + "]";
}
