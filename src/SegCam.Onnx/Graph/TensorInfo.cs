namespace SegCam.Onnx.Graph;

/// <summary>The probed element type and static shape of a tensor, with its values when small.</summary>
public sealed record TensorInfo(int ElemType, long[] Shape, double[]? Values)
{
    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Number of elements.</summary>
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);
}
