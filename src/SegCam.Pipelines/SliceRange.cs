using SegCam.Common.Errors;

namespace SegCam.Pipelines;

/// <summary>Slices [<see cref="First"/>, <see cref="First"/> + <see cref="Count"/>) along a 2-D model's slice axis; count 0 = to the end.</summary>
public readonly record struct SliceRange(int First, int Count)
{
    /// <summary>The end (exclusive) within <paramref name="slices"/> slices; checked.</summary>
    internal int EndWithin(int slices)
    {
        if (First < 0 || Count < 0 || First >= slices || Count > slices - First)
        {
            throw new InvalidRequestException($"slice range first {First}, count {Count} is outside the {slices} slices along the slice axis; allowed: 0 ≤ first < {slices}, 0 (to the end) ≤ count ≤ {slices} − first");
        }

        return Count == 0 ? slices : First + Count;
    }
}
