"""Wire format: dtypes, endianness, (K, J, I) ⇄ i-fastest bytes, chunking, slab reassembly, dequantisation."""

import numpy as np
import pytest

from segcam_client import InvalidInputError, SegCamError
from segcam_client.wire import (SlabAssembler, from_wire, iter_chunks, mask_to_runs, runs_to_mask, to_wire,
                                voxel_type_of)

SHAPE = (4, 3, 5)  # (K, J, I)


@pytest.mark.parametrize("dtype, code", [("uint8", 1), ("int8", 2), ("uint16", 3), ("int16", 4), ("uint32", 5),
                                         ("int32", 6), ("float32", 7), ("float64", 8), (">f4", 7), (">i2", 4)])
def test_voxel_types(dtype, code):
    assert voxel_type_of(np.dtype(dtype)) == code


@pytest.mark.parametrize("dtype, hint", [("bool", "astype\\(np.uint8\\)"), ("int64", "int32"),
                                         ("float16", "float32"), ("complex64", "float64")])
def test_unsupported_dtypes_name_the_allowed_ones(dtype, hint):
    with pytest.raises(InvalidInputError, match=f"not supported; allowed: uint8, int8, .*{hint}"):
        voxel_type_of(np.dtype(dtype))


def test_bytes_are_little_endian_with_i_fastest():
    a = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    data = to_wire(a)
    # voxel (i, j, k) = (1, 0, 0) is the second value on the wire; (0, 1, 0) is the I-th.
    values = np.frombuffer(data, dtype="<i2")
    assert values[1] == a[0, 0, 1] and values[5] == a[0, 1, 0] and values[15] == a[1, 0, 0]
    assert data[:4] == bytes([0, 0, 1, 0])


def test_big_endian_and_non_contiguous_inputs_are_converted():
    a = np.arange(np.prod(SHAPE), dtype=">f4").reshape(SHAPE)
    assert to_wire(a) == to_wire(a.astype("<f4"))
    fortran = np.asfortranarray(a.astype(np.float32))
    assert to_wire(fortran) == to_wire(np.ascontiguousarray(fortran))
    transposed = np.arange(60, dtype=np.float32).reshape(5, 3, 4).transpose(2, 1, 0)
    assert from_wire(to_wire(transposed), 7, transposed.shape).tolist() == transposed.tolist()


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"])
def test_round_trip_every_type(dtype):
    rng = np.random.default_rng(1)
    a = (rng.random(SHAPE) * 100).astype(dtype)
    back = from_wire(to_wire(a), voxel_type_of(a.dtype), SHAPE)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, a)


def test_from_wire_checks_the_byte_count():
    with pytest.raises(SegCamError, match="cannot hold 60 voxels"):
        from_wire(b"\0" * 10, 7, SHAPE)


def test_chunking_covers_every_byte_once_in_order():
    data = bytes(range(256)) * 41  # 10496 bytes
    chunks = list(iter_chunks(data, 1000))
    assert [o for o, _ in chunks] == list(range(0, len(data), 1000))
    assert all(len(c) == 1000 for _, c in chunks[:-1]) and len(chunks[-1][1]) == 496
    assert b"".join(c for _, c in chunks) == data
    assert list(iter_chunks(b"abc", 10)) == [(0, b"abc")]
    with pytest.raises(InvalidInputError, match="positive"):
        list(iter_chunks(data, 0))


def test_mask_runs_use_the_flat_c_order_index():
    mask = np.zeros(SHAPE, dtype=bool)
    mask[0, 0, 1:3] = True  # flat 1, 2
    mask[0, 0, 4] = mask[0, 1, 0] = True  # flat 4, 5: one run across a row boundary
    mask[3, 2, 4] = True  # the last voxel
    starts, lengths = mask_to_runs(mask)
    assert starts.tolist() == [1, 4, 59] and lengths.tolist() == [2, 2, 1]
    assert np.array_equal(runs_to_mask(starts, lengths, SHAPE), mask)
    rng = np.random.default_rng(3)
    random_mask = rng.random(SHAPE) > 0.6
    assert np.array_equal(runs_to_mask(*mask_to_runs(random_mask), SHAPE), random_mask)


def _slabs(values, slices_per_slab):
    k, j, i = values.shape
    flat = values.astype("<f4").reshape(-1)
    out = []
    for s in range(0, k, slices_per_slab):
        e = min(k, s + slices_per_slab)
        out.append((s * j * i, flat[s * j * i:e * j * i].tobytes()))
    return out


def test_slab_reassembly_in_order_reports_completed_slices():
    values = np.random.default_rng(0).random(SHAPE).astype(np.float32)
    asm = SlabAssembler(SHAPE, 7)
    ranges = [asm.add(offset, data) for offset, data in _slabs(values, 1)]
    assert ranges == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert asm.complete and asm.slices_complete == 4 and asm.missing() == []
    assert np.array_equal(asm.array, values)
    asm.check_complete()


def test_out_of_order_slabs_and_partial_slices():
    values = np.random.default_rng(1).random(SHAPE).astype(np.float32)
    flat = values.reshape(-1).astype("<f4")
    per_slice = 15
    asm = SlabAssembler(SHAPE, 7)
    assert asm.add(3 * per_slice, flat[45:60].tobytes()) == (3, 4)
    assert asm.slices_complete == 0  # slice 0 is missing
    # Half of slice 1 and all of slice 2 in one slab: only slice 2 becomes whole.
    assert asm.add(22, flat[22:45].tobytes()) == (2, 3)
    assert asm.slices_complete == 0
    assert asm.add(15, flat[15:22].tobytes()) == (1, 2)
    assert asm.add(0, flat[0:15].tobytes()) == (0, 1)
    assert asm.slices_complete == 4 and asm.complete
    assert np.array_equal(asm.array, values)


def test_slab_crossing_slices_reports_only_whole_ones():
    values = np.arange(60, dtype=np.float32).reshape(SHAPE)
    flat = values.reshape(-1).astype("<f4")
    asm = SlabAssembler(SHAPE, 7)
    assert asm.add(0, flat[0:20].tobytes()) == (0, 1)  # slice 0 whole, slice 1 a third
    assert asm.add(20, flat[20:50].tobytes()) == (1, 3)  # completes 1 and 2, starts 3
    assert asm.add(50, flat[50:60].tobytes()) == (3, 4)


def test_duplicate_and_overlapping_slabs_are_rejected():
    flat = np.zeros(60, dtype="<f4")
    asm = SlabAssembler(SHAPE, 7)
    asm.add(15, flat[15:30].tobytes())
    with pytest.raises(SegCamError, match="overlap") as info:
        asm.add(15, flat[15:30].tobytes())
    assert info.value.kind == "protocol"
    with pytest.raises(SegCamError, match="overlap"):
        asm.add(10, flat[10:16].tobytes())
    with pytest.raises(SegCamError, match="overlap"):
        asm.add(29, flat[29:40].tobytes())
    asm.add(30, flat[30:40].tobytes())  # touching is fine


def test_out_of_range_and_ragged_slabs_are_rejected():
    asm = SlabAssembler(SHAPE, 7)
    with pytest.raises(SegCamError, match="outside the volume"):
        asm.add(55, b"\0" * 4 * 6)
    with pytest.raises(SegCamError, match="outside the volume"):
        asm.add(-1, b"\0" * 4)
    with pytest.raises(SegCamError, match="whole number"):
        asm.add(0, b"\0" * 6)


def test_missing_slabs_are_reported_at_the_end():
    values = np.ones(SHAPE, dtype=np.float32)
    asm = SlabAssembler(SHAPE, 7, name="heatmap 0")
    slabs = _slabs(values, 1)
    for offset, data in slabs[:1] + slabs[2:3]:
        asm.add(offset, data)
    assert not asm.complete and asm.missing() == [(15, 30), (45, 60)]
    with pytest.raises(SegCamError, match=r"heatmap 0: .*30 of 60 voxels missing: \[15, 30\), \[45, 60\)"):
        asm.check_complete()


def test_uint8_dequantisation():
    q = np.arange(60, dtype=np.uint8).reshape(SHAPE) * 4
    asm = SlabAssembler(SHAPE, 1, scale=0.5, offset=-3.0)
    asm.add(0, q.tobytes())
    assert asm.array.dtype == np.float32
    assert np.allclose(asm.array, -3.0 + 0.5 * q.astype(np.float64))
    labels = SlabAssembler(SHAPE, 1, out_dtype=np.uint8)
    labels.add(0, q.tobytes())
    assert labels.array.dtype == np.uint8 and np.array_equal(labels.array, q)


def test_float64_wire_into_float32_heatmap_and_endianness():
    values = np.linspace(0, 1, 60).reshape(SHAPE)
    asm = SlabAssembler(SHAPE, 8)
    asm.add(0, values.astype("<f8").tobytes())
    assert np.allclose(asm.array, values)
    with pytest.raises(SegCamError, match="voxel type 9"):
        SlabAssembler(SHAPE, 9)


def test_announced_slice_range():
    values = np.arange(60, dtype=np.float32).reshape(SHAPE)
    flat = values.reshape(-1).astype("<f4")
    asm = SlabAssembler(SHAPE, 7, first_slice=1, slice_count=2)
    assert not asm.complete and asm.missing() == [(15, 45)] and asm.slices_complete == 1
    with pytest.raises(SegCamError, match=r"outside the announced slices \[1, 3\)"):
        asm.add(0, flat[0:15].tobytes())
    assert asm.add(30, flat[30:45].tobytes()) == (2, 3)
    assert asm.add(15, flat[15:30].tobytes()) == (1, 2)
    assert asm.complete and asm.slices_complete == 4
    assert np.array_equal(asm.array[1:3], values[1:3]) and not asm.array[0].any() and not asm.array[3].any()
    assert SlabAssembler(SHAPE, 7, first_slice=0, slice_count=0).complete
    with pytest.raises(SegCamError, match=r"announced slices \[3, 5\) of a volume with 4 slices"):
        SlabAssembler(SHAPE, 7, first_slice=3, slice_count=2)
