namespace SegCam.Volumes.Geometry;

/// <summary>A 3×3 direction matrix whose columns are the unit LPS directions of the i, j, k index axes.</summary>
public readonly record struct Direction3(Vector3 I, Vector3 J, Vector3 K)
{
    /// <summary>Axis-aligned: i → +x, j → +y, k → +z.</summary>
    public static Direction3 Identity { get; } = new(new Vector3(1, 0, 0), new Vector3(0, 1, 0), new Vector3(0, 0, 1));

    /// <summary>Column <paramref name="axis"/>: the direction of index axis i (0), j (1) or k (2).</summary>
    public Vector3 Column(int axis) => axis switch
    {
        0 => I,
        1 => J,
        2 => K,
        _ => throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis must be 0, 1 or 2"),
    };

    /// <summary>Element (row, column).</summary>
    public double this[int row, int column] => Column(column)[row];

    /// <summary>Builds a matrix from row-major elements m[row, column].</summary>
    public static Direction3 FromRows(double[,] m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return new Direction3(new Vector3(m[0, 0], m[1, 0], m[2, 0]), new Vector3(m[0, 1], m[1, 1], m[2, 1]), new Vector3(m[0, 2], m[1, 2], m[2, 2]));
    }

    /// <summary>The determinant (+1 right-handed, −1 left-handed for an orthonormal matrix).</summary>
    public double Determinant => Vector3.Dot(I, Vector3.Cross(J, K));

    /// <summary>Largest |DᵀD − 1| element: 0 for an exact rotation or reflection.</summary>
    public double OrthonormalityError()
    {
        var worst = 0.0;
        for (var a = 0; a < 3; a++)
        {
            for (var b = 0; b < 3; b++)
            {
                var dot = Vector3.Dot(Column(a), Column(b));
                worst = Math.Max(worst, Math.Abs(dot - (a == b ? 1 : 0)));
            }
        }

        return double.IsFinite(worst) ? worst : double.PositiveInfinity;
    }

    /// <summary>LPS ↔ RAS: rows x and y change sign.</summary>
    public Direction3 FlipLpsRas() => new(I.FlipLpsRas(), J.FlipLpsRas(), K.FlipLpsRas());

    public override string ToString() => $"[{I} {J} {K}]";
}
