"""The register-blocked direct kernels (src/cx_direct_impl.h) on their edge shapes.

The direct algorithm copies each item's input rows, zero-padded and split into
stride phases, into a band and runs tiles of output channels x vectors of
output pixels (forward) or output channels x kernel taps (weight gradient).
These tests pin what the tiling could get wrong: output widths below, at and
above the vector width of every SIMD path (and the several-rows-per-vector
tiles of narrow outputs), kernels wider than the image, strides larger than
the kernel, dilation with stride (the phase split), every channel count the
channel blocking decomposes (1..9, 16, 17), and writes outside the output.
All on integer data, exactly, against the float64 reference, on every
instruction-set path this CPU has.
"""

import numpy as np
import pytest

import convx
from convx import _conv
from reference import ref_conv2d, ref_conv2d_input, ref_conv2d_weight

PATHS = [p for p in ("generic", "avx2", "avx512")
         if _conv.isa_names().index(p) <= _conv.isa_names().index(_conv.cpu_best_isa())]


@pytest.fixture(params=PATHS)
def isa(request):
    before = _conv.active_isa()
    assert _conv.select_isa(request.param) == request.param
    yield request.param
    _conv.select_isa(before)


# (id, N, C, H, W, K, R, S, kwargs): widths around 4, 8 and 16 lanes, 2 and 4 vectors
CASES = [
    ("q1", 2, 3, 5, 1, 4, 3, 1, dict(padding=(1, 0))),
    ("q3_multirow", 2, 2, 9, 3, 5, 3, 3, dict(padding=1)),
    ("q5_multirow", 1, 1, 13, 5, 3, 3, 3, dict(padding=1)),
    # enough images that an item takes a whole image: tiles of several rows
    ("q5_multirow_batch", 33, 1, 13, 5, 3, 3, 3, dict(padding=1)),
    ("q3_multirow_batch", 40, 2, 10, 3, 2, 3, 3, dict(padding=(2, 1))),
    ("q7", 3, 1, 7, 7, 8, 3, 3, dict(padding=1)),
    ("q8", 2, 2, 8, 8, 9, 3, 3, dict(padding=1)),
    ("q9", 2, 3, 6, 9, 6, 3, 3, dict(padding=1)),
    ("q15", 1, 2, 5, 15, 16, 3, 3, dict(padding=1)),
    ("q16", 1, 2, 4, 16, 17, 3, 3, dict(padding=1)),
    ("q17", 2, 1, 4, 17, 7, 3, 3, dict(padding=1)),
    ("q31", 1, 2, 3, 31, 5, 3, 3, dict(padding=1)),
    ("q33", 1, 1, 3, 33, 2, 3, 3, dict(padding=1)),
    ("q65", 1, 1, 2, 65, 3, 1, 5, dict(padding=(0, 2))),
    ("kernel_wider_than_image", 2, 2, 3, 4, 3, 5, 7, dict(padding=(2, 3))),
    ("stride_above_kernel", 2, 3, 17, 23, 4, 2, 2, dict(stride=3, padding=1)),
    ("stride2_dilation3", 2, 2, 19, 40, 5, 3, 3, dict(stride=2, dilation=3, padding=2)),
    ("stride_3x2_asym_pad", 1, 2, 20, 37, 6, 4, 3, dict(stride=(3, 2), padding=((0, 2), (3, 1)))),
    ("depthwise", 2, 6, 11, 21, 6, 3, 3, dict(padding=1, groups=6)),
    ("depthwise_multiplier", 2, 4, 9, 18, 12, 5, 5, dict(padding=2, groups=4)),
    ("grouped", 2, 6, 10, 12, 9, 3, 3, dict(padding=1, groups=3)),
    # enough groups that items take runs of several groups (forward and weight
    # gradient group blocks, last block short)
    # one-channel tiles of several rows walked by input row (3x3 and 5x5, unit
    # vertical step; a horizontal stride or dilation moves only column taps)
    ("depthwise_q40_wstride", 2, 4, 9, 80, 4, 3, 3, dict(stride=(1, 2), padding=1, groups=4)),
    ("depthwise_5x5_q50_wdilation", 2, 3, 12, 54, 3, 5, 5,
     dict(dilation=(1, 2), padding=2, groups=3)),
    ("depthwise_group_blocks", 3, 70, 9, 13, 70, 3, 3, dict(padding=1, groups=70)),
    ("grouped_group_blocks", 2, 100, 6, 20, 50, 3, 3, dict(padding=(0, 1), groups=50)),
    ("single_channel_7x7", 1, 1, 40, 70, 1, 7, 7, dict(padding=3)),
    # narrow rows, 16 output channels a block: channel-vector tiles, and for
    # kernel rows of 3, 5 or 7 contiguous taps the sliding ones (every pixel
    # count 4..14 of a tile, rows not a multiple of it, vertical stride and
    # dilation, which keep the row contiguous)
    ("chvec_5x5_q14", 3, 8, 14, 14, 16, 5, 5, dict(padding=2)),
    ("chvec_3x3_q13_k32", 2, 5, 9, 13, 32, 3, 3, dict(padding=1)),
    ("chvec_7x7_q11", 2, 3, 12, 11, 16, 7, 7, dict(padding=3)),
    ("chvec_5x3_q6_vstride", 2, 4, 15, 6, 16, 5, 3, dict(stride=(2, 1), padding=(1, 1))),
    ("chvec_3x5_q9_vdilation", 1, 3, 12, 9, 48, 3, 5, dict(dilation=(2, 1), padding=(2, 2))),
    ("chvec_3x4_q12", 2, 2, 8, 12, 16, 3, 4, dict(padding=(1, 2))),
    ("chvec_3x3_q7_dilated", 2, 2, 9, 11, 16, 3, 3, dict(dilation=2, padding=1)),
    # rows of at most S pixels: the weight gradient's exact loop instead of blocks
    ("chvec_3x3_q3", 2, 3, 5, 3, 16, 3, 3, dict(padding=(1, 0))),
    ("chvec_5x5_q5", 2, 2, 7, 5, 32, 5, 5, dict(padding=(2, 0))),
    # remainders (Q - 1 - S) % S = 0, 6, 2, 5 of the middle blocks for S = 7
    ("chvec_7x7_q8", 1, 2, 9, 8, 16, 7, 7, dict(padding=(3, 0))),
    ("chvec_7x7_q14", 1, 2, 9, 14, 16, 7, 7, dict(padding=(3, 0))),
    ("chvec_7x7_q17", 1, 2, 9, 17, 16, 7, 7, dict(padding=(3, 3))),
    ("chvec_7x7_q20", 1, 2, 9, 20, 16, 7, 7, dict(padding=(3, 3))),
    # rows wider than a vector: channel-vector tiles where the sliding ones apply
    ("chvec_wide_3x3_q56", 2, 3, 6, 56, 32, 3, 3, dict(padding=1)),
    ("chvec_wide_7x7_q41", 1, 2, 9, 41, 16, 7, 7, dict(padding=3)),
    ("chvec_wide_1d_q3000", 1, 5, 1, 3000, 16, 1, 5, dict(padding=(0, 2))),
    ("negative_dgrad_pad", 2, 2, 12, 12, 3, 2, 2, dict(padding=3)),
    # rows too long for one band: column tiles (one item each, forward; one
    # reduction unit each, weight gradient), whose vectors must not spill
    # into the next tile's columns
    ("long_row_1d", 2, 64, 1, 8200, 5, 1, 9, dict(padding=(0, 4))),
    ("long_row_stride_dilation", 1, 48, 1, 9001, 6, 1, 5,
     dict(stride=(1, 3), dilation=(1, 2), padding=(0, 3))),
    ("long_rows_2d", 1, 40, 3, 7000, 4, 2, 3, dict(padding=1)),
    ("long_row_grouped", 2, 64, 1, 6000, 8, 1, 3, dict(groups=2, padding=(0, 1))),
    # the channel-vector weight gradient on column tiles (16k output channels,
    # rows too long for one band; 1-D and two kernel rows)
    ("long_row_chvec_k9", 2, 64, 1, 8200, 16, 1, 9, dict(padding=(0, 4))),
    ("long_row_chvec_2x3", 1, 40, 3, 7001, 32, 2, 3, dict(padding=1)),
    # kernel rows of 9 taps: remainders (Q - 1 - S) % S = 1, 7, 8 of the middle
    # blocks, and rows of at most S pixels (the exact loop)
    ("chvec_9x9_q20", 2, 3, 12, 20, 16, 9, 9, dict(padding=4)),
    ("chvec_3x9_q26", 1, 2, 5, 26, 16, 3, 9, dict(padding=(1, 4))),
    ("chvec_1x9_q27", 2, 4, 3, 27, 32, 1, 9, dict(padding=(0, 4))),
    ("chvec_1x9_q9", 2, 4, 3, 9, 16, 1, 9, dict(padding=(0, 4))),
    # 16 output channels, but the row is too long for a channel-vector band
    ("long_row_k16", 1, 8, 1, 9000, 16, 1, 3, dict(padding=(0, 1))),
    # the weight gradient's band rows sharing their zero padding (a row's right
    # padding read as the next row's left): lenet2's rows, asymmetric padding,
    # dilation -- each 2 columns shorter than the padded row on 4 and 8 lanes
    ("shared_pitch_5x5_q14", 2, 3, 14, 14, 4, 5, 5, dict(padding=2)),
    ("shared_pitch_asym_q13", 2, 2, 6, 13, 3, 3, 5, dict(padding=((1, 1), (3, 1)))),
    ("shared_pitch_dil2_q22", 1, 2, 5, 22, 3, 1, 3, dict(padding=(0, 2), dilation=2)),
]


def _arrays(case, seed=0):
    _, N, C, H, W, K, R, S, kw = case
    rng = np.random.default_rng(seed)
    g = kw.get("groups", 1)
    x = rng.integers(-3, 4, (N, C, H, W)).astype(np.float64)
    w = rng.integers(-3, 4, (K, C // g, R, S)).astype(np.float64)
    b = rng.integers(-3, 4, K).astype(np.float64)
    y = ref_conv2d(x, w, b, **kw)
    gy = rng.integers(-3, 4, y.shape).astype(np.float64)
    return x, w, b, gy, kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_direct_kernels_exact_on_integers(isa, case, dtype):
    x, w, b, gy, kw = _arrays(case)
    xd, wd, bd, gyd = (a.astype(dtype) for a in (x, w, b, gy))
    np.testing.assert_array_equal(
        convx.conv2d(xd, wd, bd, algorithm="direct", **kw), ref_conv2d(x, w, b, **kw))
    np.testing.assert_array_equal(
        convx.conv2d_weight(xd, w.shape, gyd, algorithm="direct", **kw),
        ref_conv2d_weight(x, w.shape, gy, **kw))
    np.testing.assert_array_equal(
        convx.conv2d_input(x.shape, wd, gyd, algorithm="direct", **kw),
        ref_conv2d_input(x.shape, w, gy, **kw))
    # and the same numbers as the GEMM path
    np.testing.assert_array_equal(
        convx.conv2d(xd, wd, bd, algorithm="direct", **kw),
        convx.conv2d(xd, wd, bd, algorithm="im2col", **kw))


def dtype_lanes_f32():
    """float32 lanes of the active path's vectors (the channel-vector tiles need 16)."""
    return {"avx512": 16, "avx2": 8}.get(_conv.active_isa(), 4)


def _geometry(x, w, kw):
    y = ref_conv2d(x, w, **kw)
    from reference import resolve_padding, pair
    (top, _), (left, _) = resolve_padding(kw.get("padding", 0), x.shape[2:], w.shape[2:],
                                          kw.get("stride", 1), kw.get("dilation", 1))
    (sh, sw), (dh, dw) = pair(kw.get("stride", 1)), pair(kw.get("dilation", 1))
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    return (N, C, H, W, K, R, S, y.shape[2], y.shape[3], sh, sw, dh, dw, top, left,
            kw.get("groups", 1))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_direct_cases_use_the_register_blocked_kernels(case):
    """The cases above exercise the new kernels, not the plain fallback loops."""
    x, w, b, gy, kw = _arrays(case)
    geo = _geometry(x, w, kw)
    for op in ("fwd", "wgrad"):
        info = _conv.plan_info(geo, op, "direct", np.float32)
        assert info["direct_kernels"], op
        if case[0].endswith("group_blocks"):
            assert 1 < info["cblock"] < geo[-1] and geo[-1] % info["cblock"], (op, info)
        if case[0].startswith("chvec") and dtype_lanes_f32() == 16 and (
                (op == "fwd" and case[7] < 9) or
                (op == "wgrad" and kw.get("dilation", 1) in (1, (2, 1)) and case[7] in (3, 5, 7, 9))):
            assert info["dk_mode"] == 2, (op, info)
        if case[0].startswith("long_row") and (op == "fwd" or case[0] == "long_row_1d"):
            assert 0 < info["column_tile"] < geo[8], (op, info)
        if case[0].startswith("long_row_chvec") and op == "wgrad" and dtype_lanes_f32() == 16:
            assert info["dk_mode"] == 2 and 0 < info["column_tile"] < geo[8], (op, info)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_direct_writes_only_its_output(isa, case):
    """Results written through out= into the middle of a canary-filled buffer:
    every element around the output keeps its canary (the narrow-row tiles
    store whole vectors that spill into the next rows)."""
    x, w, b, gy, kw = _arrays(case)
    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    shape = ref_conv2d(x, w, b, **kw).shape
    n = int(np.prod(shape))
    buf = np.full(n + 64, 12345.0, np.float32)
    out = buf[32:32 + n].reshape(shape)
    convx.conv2d(x, w, b, algorithm="direct", out=out, **kw)
    assert (buf[:32] == 12345.0).all() and (buf[32 + n:] == 12345.0).all()
    np.testing.assert_array_equal(out, ref_conv2d(x.astype(np.float64), w.astype(np.float64),
                                                  b.astype(np.float64), **kw))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("case", ["q9", "q5_multirow", "stride2_dilation3",
                                  "chvec_5x5_q14", "chvec_wide_3x3_q56", "chvec_3x3_q3",
                                  "shared_pitch_5x5_q14", "shared_pitch_asym_q13"])
def test_direct_weight_gradient_nonfinite_input_stays_local(case, bad):
    """An inf/NaN in the input poisons exactly the weight-gradient taps that
    read it (the vector lanes past the end of a row, which also read it, are
    masked), as in the reference."""
    c = dict((cc[0], cc) for cc in CASES)[case]
    x, w, b, gy, kw = _arrays(c)
    x[0, 0, x.shape[2] // 2, x.shape[3] - 1] = bad
    with np.errstate(invalid="ignore"):
        ref = ref_conv2d_weight(x, w.shape, gy, **kw)
    got = convx.conv2d_weight(x.astype(np.float32), w.shape, gy.astype(np.float32),
                              algorithm="direct", **kw)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(got[fin], ref[fin])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_depthwise_streamed_output(isa, dtype, offset):
    """Depthwise layers whose output is far beyond the caches write it with
    non-temporal stores from a per-item buffer (AVX-512): exact on integers,
    into an out= view at any offset from a 64-byte line (unaligned heads and
    tails take ordinary stores), nothing written around it."""
    rng = np.random.default_rng(offset)
    x = rng.integers(-3, 4, (2, 72, 122, 123)).astype(np.float64)
    w = rng.integers(-3, 4, (72, 1, 3, 3)).astype(np.float64)
    b = rng.integers(-3, 4, 72).astype(np.float64)
    kw = dict(padding=1, groups=72)
    ref = ref_conv2d(x, w, b, **kw)
    geo = _geometry(x, w, kw)
    if isa == "avx512":
        assert _conv.plan_info(geo, "fwd", "direct", dtype)["dk_stream"]
    buf = np.full(ref.size + offset + 40, -7.5, dtype)
    out = buf[offset:offset + ref.size].reshape(ref.shape)
    got = convx.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype), out=out,
                       algorithm="direct", threads=2, **kw)
    assert got is out
    np.testing.assert_array_equal(out, ref)
    assert (buf[:offset] == -7.5).all() and (buf[offset + ref.size:] == -7.5).all()
    # the input gradient (the forward of grad_output) streams too
    gy = rng.integers(-3, 4, ref.shape).astype(np.float64)
    np.testing.assert_array_equal(
        convx.conv2d_input(x.shape, w.astype(dtype), gy.astype(dtype), algorithm="direct", **kw),
        ref_conv2d_input(x.shape, w, gy, **kw))


# Depthwise 3x3 layers with streamed outputs whose rows fit one tile of 1, 2 or 4
# vectors (float32 on AVX-512: output rows of <= 16, 32, 64 pixels): the tiles
# read the input in place, with masked loads for the padding columns and zero
# vectors for the padding rows.
INPLACE = [
    ("q12_pad0", (8, 1500, 20, 14), dict(padding=0)),
    ("q29_pad12", (3, 900, 30, 27), dict(padding=(1, 2))),
    ("q45_pad1", (2, 600, 45, 45), dict(padding=1)),
    ("q61_asym", (2, 500, 41, 62), dict(padding=((2, 0), (0, 1)))),
    ("q30_pad2_f64", (2, 700, 26, 26), dict(padding=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", INPLACE, ids=[c[0] for c in INPLACE])
def test_depthwise_3x3_reads_its_input_in_place(dev_flags, dtype, case):
    """The same results as from a band (CX_DEV_NO_INPLACE), exactly the
    reference's on integers, into an unaligned out= view with nothing written
    around it; an inf in the input or the weight gives the reference's NaNs
    (0 * inf on the padding)."""
    _, xs, kw = case
    C = xs[1]
    rng = np.random.default_rng(C)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, (C, 1, 3, 3)).astype(np.float64)
    b = rng.integers(-3, 4, C).astype(np.float64)
    kw = dict(kw, groups=C)
    geo = _geometry(x, w, kw)
    Q = geo[8]
    lanes = 16 if dtype == np.float32 else 8
    big = np.prod(ref_conv2d(x[:1, :1], w[:1], **dict(kw, groups=1)).shape[2:]) * \
        x.shape[0] * C * np.dtype(dtype).itemsize > 8 << 20      # (streamed)
    expect = _conv.active_isa() == "avx512" and Q <= 4 * lanes and big
    assert _conv.plan_info(geo, "fwd", "direct", dtype)["in_place"] == expect
    for bad in (None, "x", "w"):
        if bad == "x":
            x[1, 3, 0, -1] = np.inf        # a corner: its padding neighbours too
            x[0, 5, xs[2] // 2, 0] = -np.inf
        elif bad == "w":
            w[7, 0, 0, 2] = np.inf         # reads the top padding row
        with np.errstate(invalid="ignore"):
            ref = ref_conv2d(x, w, b, **kw)
        got = []
        for flags in (0, 1024):
            dev_flags(flags)
            buf = np.full(ref.size + 41, -7.5, dtype)
            out = buf[1:1 + ref.size].reshape(ref.shape)
            assert convx.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype), out=out,
                                algorithm="direct", threads=2, **kw) is out
            assert buf[0] == -7.5 and (buf[1 + ref.size:] == -7.5).all()
            got.append(out)
        dev_flags(0)
        np.testing.assert_array_equal(got[0], got[1])
        np.testing.assert_array_equal(np.isnan(got[0]), np.isnan(ref))
        fin = ~np.isnan(ref)
        np.testing.assert_array_equal(got[0][fin], ref[fin])
        if bad == "w" and geo[13] > 0:     # (the test reaches the top padding)
            assert np.isnan(ref[:, 7, 0]).all()


# Depthwise 3x3 weight gradients with rows of at most 8 vectors: the tile reads
# x and grad_output in place (masked loads: padding columns, and lanes past a
# grad_output row, zero; padding rows zero vectors), no band and no copy.
WGRAD_INPLACE = [
    ("q21_pad1", (2, 128, 20, 21), dict(padding=1)),
    ("q7_pad01", (2, 40, 9, 5), dict(padding=(0, 1))),
    ("q32_pad12", (3, 37, 11, 30), dict(padding=(1, 2))),
    ("q4_pad20", (2, 16, 6, 6), dict(padding=(2, 0))),
    ("q56", (8, 32, 56, 56), dict(padding=1)),
    ("q130_band", (2, 20, 7, 130), dict(padding=1)),       # 9 vectors: the band path
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", WGRAD_INPLACE, ids=[c[0] for c in WGRAD_INPLACE])
def test_depthwise_3x3_weight_gradient_reads_in_place(dev_flags, dtype, case):
    """The same sums as from a band and a grad_output copy (CX_DEV_NO_INPLACE)
    and with the next planes asked for in a burst (CX_DEV_NO_PFWGRADX, 131072),
    exactly the reference's on integers, and its NaNs for an inf in the input
    (at a border) or in grad_output (meeting the padding)."""
    _, xs, kw = case
    C = xs[1]
    rng = np.random.default_rng(C + 1)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = np.zeros((C, 1, 3, 3))
    kw = dict(kw, groups=C)
    gy = rng.integers(-3, 4, ref_conv2d(x, w, **kw).shape).astype(np.float64)
    for bad in (None, "x", "dy"):
        if bad == "x":
            x[0, 1, 0, -1] = np.inf
        elif bad == "dy":
            gy[-1, 2, 0, 0] = -np.inf
        with np.errstate(invalid="ignore"):
            ref = ref_conv2d_weight(x, w.shape, gy, **kw)
        got = []
        for flags in (0, 1024, 131072):
            dev_flags(flags)
            got.append(convx.conv2d_weight(x.astype(dtype), w.shape, gy.astype(dtype),
                                           algorithm="direct", threads=2, **kw))
        dev_flags(0)
        np.testing.assert_array_equal(got[0], got[1])
        np.testing.assert_array_equal(got[0], got[2])
        np.testing.assert_array_equal(np.isnan(got[0]), np.isnan(ref))
        fin = ~np.isnan(ref)
        np.testing.assert_array_equal(got[0][fin], ref[fin])
    assert np.isnan(ref).any()


WGRAD_INPLACE_MODES = [
    # padding 1 on each side (one padded lane a vector): in place; padding 2
    # on a side: two lanes, the band
    ("q21", (2, 16, 20, 21), 1),
    ("q56", (8, 32, 56, 56), 1),
    ("q33_pad10", (3, 8, 9, 33), (1, 0)),
    ("q5", (2, 4, 5, 5), 1),
    ("q16_pad2", (2, 8, 12, 16), 2),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", WGRAD_INPLACE_MODES, ids=[c[0] for c in WGRAD_INPLACE_MODES])
def test_depthwise_3x3_weight_gradient_in_place_padding_modes(dev_flags, dtype, mode, case):
    """Under a padding mode the in-place weight-gradient tiles take each
    padded row from the row it copies and each vector's padded lane from the
    column it copies: bit for bit the band's sums (CX_DEV_NO_MODEX) on random
    floats, exactly the reference's on integers, NaNs where an inf input
    pixel on the border is copied; the band where a vector has two padded
    lanes (the same results)."""
    from reference_nd import ref_conv_weight
    _, xs, pad = case
    C = xs[1]
    rng = np.random.default_rng(C + 7)
    kw = dict(padding=pad, groups=C, padding_mode=mode, algorithm="direct", threads=2)
    ws = (C, 1, 3, 3)
    y = convx.conv2d(np.zeros(xs), np.zeros(ws), **kw)
    for data in ("floats", "integers", "inf"):
        if data == "floats":
            x, gy = rng.standard_normal(xs), rng.standard_normal(y.shape)
        else:
            x = rng.integers(-3, 4, xs).astype(np.float64)
            gy = rng.integers(-3, 4, y.shape).astype(np.float64)
            if data == "inf":
                x[0, 1, 0, 0] = np.inf      # copied into the padding by every mode
        got = []
        for flags in (0, 4096):
            dev_flags(flags)
            got.append(convx.conv2d_weight(x.astype(dtype), ws, gy.astype(dtype), **kw))
        dev_flags(0)
        np.testing.assert_array_equal(got[0], got[1])
        if data != "floats":
            with np.errstate(invalid="ignore"):
                ref = ref_conv_weight(x, ws, gy, padding=pad, groups=C, mode=mode)
            np.testing.assert_array_equal(got[0], ref)


def test_direct_random_floats_close_to_reference():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 30, 45))
    w = rng.standard_normal((16, 8, 5, 5))
    gy = rng.standard_normal((3, 16, 30, 45))
    for dt, tol in ((np.float32, 2e-4), (np.float64, 1e-11)):
        y = convx.conv2d(x.astype(dt), w.astype(dt), padding=2, algorithm="direct")
        np.testing.assert_allclose(y, ref_conv2d(x, w, padding=2), rtol=tol, atol=tol * 30)
        gw = convx.conv2d_weight(x.astype(dt), w.shape, gy.astype(dt), padding=2,
                                 algorithm="direct")
        np.testing.assert_allclose(gw, ref_conv2d_weight(x, w.shape, gy, padding=2),
                                   rtol=tol, atol=tol * 300)


@pytest.mark.parametrize("shapes", [((16, 8, 14, 14), (16, 8, 5, 5), 2),
                                    ((4, 64, 20, 20), (64, 64, 3, 3), 1),
                                    ((3, 32, 9, 9), (32, 32, 7, 7), 3)],
                         ids=["lenet2", "c64_3x3", "c32_7x7"])
def test_channel_vector_weight_gradient_thread_invariant(shapes):
    """The channel-vector weight gradient reduces its batch chunks in a fixed
    order: the same bits for 1, 2 and 3 threads, and, where the build has the
    tiles, for NHWC operands (which then run the same tiles) as for NCHW."""
    xs, ws, pad = shapes
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    gy = rng.standard_normal(convx.conv2d(x, w, padding=pad).shape).astype(np.float32)
    one = convx.conv2d_weight(x, ws, gy, padding=pad, threads=1)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    gn = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    one_nhwc = convx.conv2d_weight(xn, ws, gn, padding=pad, threads=1, layout="NHWC")
    if convx._api._channel_tiles(np.float32):
        np.testing.assert_array_equal(one_nhwc, one)
    else:
        np.testing.assert_allclose(one_nhwc, one, rtol=1e-4, atol=1e-3)
    for t in (2, 3):
        np.testing.assert_array_equal(convx.conv2d_weight(x, ws, gy, padding=pad, threads=t), one)
        np.testing.assert_array_equal(
            convx.conv2d_weight(xn, ws, gn, padding=pad, threads=t, layout="NHWC"), one_nhwc)


def test_column_tiles_thread_invariant():
    """Long rows cut into column tiles: the weight gradient reduces its tiles
    in a fixed order, so every thread count gives the same bits."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 64, 1, 9000)).astype(np.float32)
    w = rng.standard_normal((16, 64, 1, 9)).astype(np.float32)
    gy = rng.standard_normal((3, 16, 1, 9000)).astype(np.float32)
    kw = dict(padding=(0, 4), algorithm="direct")
    one = convx.conv2d_weight(x, w.shape, gy, threads=1, **kw)
    for t in (2, 3):
        np.testing.assert_array_equal(convx.conv2d_weight(x, w.shape, gy, threads=t, **kw), one)
        np.testing.assert_array_equal(convx.conv2d(x, w, threads=t, **kw),
                                      convx.conv2d(x, w, threads=1, **kw))
    np.testing.assert_allclose(one, ref_conv2d_weight(x, w.shape, gy, padding=(0, 4)),
                               rtol=1e-4, atol=1e-2)


ROWWALK_CASES = [c for c in CASES if c[0] in (
    "q3_multirow", "depthwise", "depthwise_multiplier", "depthwise_q40_wstride",
    "depthwise_5x5_q50_wdilation", "depthwise_group_blocks")]


@pytest.mark.parametrize("case", ROWWALK_CASES, ids=[c[0] for c in ROWWALK_CASES])
def test_rowwalk_tiles_match_the_tiles_they_replace(isa, case, dev_flags):
    """The one-channel tiles walked by input row (dk_fwdr, dk_wgradr) against the
    tap-by-tap tiles they replace (CX_DEV_NO_ROWWALK = 1 switches them back on),
    and their aligned-row form (AVX-512: column shifts in registers) against
    their plain one (CX_DEV_NO_ROWALIGN = 2): the same numbers on integer data;
    on random floats all within rounding of the float64 reference, the aligned
    forward bit for bit the old tiles' (it sums in their order), and the plain
    row walk different in the last bits somewhere (it sums column tap before
    kernel row), which shows the switches reach the new tiles."""
    x, w, b, gy, kw = _arrays(case)
    f32 = np.float32

    def ops(xa, wa, ga, ba=None):
        return (convx.conv2d(xa.astype(f32), wa.astype(f32),
                             None if ba is None else ba.astype(f32), algorithm="direct", **kw),
                convx.conv2d_weight(xa.astype(f32), w.shape, ga.astype(f32),
                                    algorithm="direct", **kw),
                convx.conv2d_input(x.shape, wa.astype(f32), ga.astype(f32),
                                   algorithm="direct", **kw))

    runs = {}
    for flags in (0, 1, 2):
        dev_flags(flags)
        runs[flags] = ops(x, w, gy, b)
    for flags in (1, 2):
        for a, b_ in zip(runs[0], runs[flags]):
            np.testing.assert_array_equal(a, b_)
    rng = np.random.default_rng(11)
    xf, wf, gf = (rng.standard_normal(a.shape) for a in (x, w, gy))
    refs = (ref_conv2d(xf, wf, **kw), ref_conv2d_weight(xf, w.shape, gf, **kw),
            ref_conv2d_input(x.shape, wf, gf, **kw))
    outs = {}
    for flags in (0, 1, 2):
        dev_flags(flags)
        outs[flags] = ops(xf, wf, gf)
        for o, ref in zip(outs[flags], refs):
            np.testing.assert_allclose(o, ref, rtol=1e-4, atol=1e-4)
    dev_flags(0)
    geo = _geometry(x, w, kw)
    aligned = isa == "avx512" and _conv.plan_info(geo, "fwd", "direct", f32)["band_row"] % 16 == 0
    if isa == "avx512":
        # the aligned form where the column taps are contiguous (and only there)
        assert aligned == (kw.get("stride", 1) in (1, (1, 1))
                           and kw.get("dilation", 1) in (1, (1, 1))), geo
    if aligned:
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
    # (reached on the 32-register path always; with 16 registers 5x5 has no
    # weight-gradient tile, and the generic path's narrow vectors may give
    # one-row forward tiles)
    if isa == "avx512" or (isa == "avx2" and case[6] == 3):
        assert any(not np.array_equal(o2, o1) for o2, o1 in zip(outs[2], outs[1])), \
            "the row-walking tiles were not reached"


def test_assembly_tile_matches_its_c_form(isa, dev_flags):
    """AVX2's float32 12-pixel channel tile of 3-tap kernel rows runs in
    assembly (cx_direct_impl.h, dk_fwdcs_12_3a): the C tile's FMAs in the C
    tile's order, so bit for bit its results (CX_DEV_NO_ASM = 32 runs the C
    form), on 56-pixel rows (four full tiles and one past the row's end), with
    a bias or none, several images and bands, and in a 3-D forward; exact on
    integer data (the channels-last call rides along: its plan may differ)."""
    f32 = np.float32
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 24, 9, 56)).astype(f32)
    w = rng.standard_normal((16, 24, 3, 3)).astype(f32)
    b = rng.standard_normal(16).astype(f32)
    x3 = rng.standard_normal((1, 4, 5, 6, 56)).astype(f32)
    w3 = rng.standard_normal((8, 4, 3, 3, 3)).astype(f32)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    geo = _geometry(x, w, dict(padding=1))
    if isa == "avx2":
        assert _conv.plan_info(geo, "fwd", "direct", f32)["dk_tile"] == (8, 12)

    def ops():
        d = dict(padding=1, algorithm="direct")
        return (convx.conv2d(x, w, b, **d), convx.conv2d(x, w, **d),
                convx.conv2d(xh, w, b, layout="NHWC", padding=1),
                convx.conv3d(x3, w3, padding=1, algorithm="direct"))
    new = ops()
    dev_flags(32)
    old = ops()
    dev_flags(0)
    for a, o in zip(new, old):
        np.testing.assert_array_equal(a, o)
    np.testing.assert_allclose(new[0], ref_conv2d(x, w, b, padding=1), rtol=1e-4, atol=1e-4)
    xi = rng.integers(-3, 4, x.shape).astype(f32)
    wi = rng.integers(-3, 4, w.shape).astype(f32)
    np.testing.assert_array_equal(convx.conv2d(xi, wi, padding=1, algorithm="direct"),
                                  ref_conv2d(xi, wi, None, padding=1))


def _random_layer(case, seed):
    """(rng, x, w, bias, geometry, grad_output) in float32 for an (id, input
    shape, weight shape, kwargs) case, standard normal from seed."""
    _, xs, ws, kw = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    geo = _geometry(x, w, kw)
    gy = rng.standard_normal((xs[0], ws[0], geo[7], geo[8])).astype(np.float32)
    return rng, x, w, b, geo, gy


# (id, input shape, weight shape, kwargs): kernel rows of 6, 9, 10 or 15
# contiguous taps, which the sliding channel tiles take as chunks of 3 or 5
# (cx_dk_slide), and 1-D rows too long for one band, cut into column tiles
CHUNK_CASES = [
    ("audio_9tap_column_tiles", (2, 16, 1, 9000), (16, 16, 1, 9), dict(padding=(0, 4))),
    ("15tap_column_tiles", (1, 8, 1, 7001), (8, 8, 1, 15), dict(padding=(0, 7))),
    ("10tap_1d", (3, 8, 1, 300), (24, 8, 1, 10), dict(padding=(0, 3))),
    ("6tap_2d", (2, 8, 10, 20), (16, 8, 3, 6), dict(padding=(1, 2))),
    ("9tap_2d_groups2", (2, 16, 7, 30), (16, 8, 2, 9), dict(padding=(0, 4), groups=2)),
]


@pytest.mark.parametrize("case", CHUNK_CASES, ids=[c[0] for c in CHUNK_CASES])
def test_chunked_and_column_channel_tiles(isa, case, dev_flags):
    """Kernel rows whose width 3, 5 or 7 divides run the sliding channel tiles
    chunk by chunk, and 1-D rows longer than a band run them in column tiles
    (AVX2 float32: conv1d_audio's forward 53 -> 73 GFLOP/s). They add the taps
    in the pixel tiles' order, so the forward and the input gradient (a
    forward of grad_output) are bit for bit those of the pixel tiles that
    CX_DEV_NO_CV1D = 64 (column tiles) or CX_DEV_NO_CV8 = 16 (all channel
    tiles) bring back; 1 and 2 threads the same bits; exact on integers."""
    _, xs, ws, kw = case
    f32 = np.float32
    rng, x, w, b, geo, gy = _random_layer(case, 8)
    plan = _conv.plan_info(geo, "fwd", "direct", f32)
    column = xs[2] == 1 and xs[3] > 5000
    if isa == "avx2":
        assert plan["dk_mode"] == 2 and plan["dk_tile"][0] == 8, plan
        if column:
            assert plan["nitems"] > xs[0], plan      # (column tiles)

    def ops(threads=1):
        d = dict(algorithm="direct", threads=threads, **kw)
        return convx.conv2d(x, w, b, **d), convx.conv2d_input(x.shape, w, gy, **d)

    new = ops()
    for a, o in zip(ops(threads=2), new):
        np.testing.assert_array_equal(a, o)
    dev_flags(64 if column else 16)
    assert isa != "avx2" or _conv.plan_info(geo, "fwd", "direct", f32)["dk_mode"] != 2
    old = ops()
    dev_flags(0)
    for a, o in zip(new, old):
        np.testing.assert_array_equal(a, o)
    tol = dict(rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(new[0], ref_conv2d(x, w, b, **kw), **tol)
    np.testing.assert_allclose(new[1], ref_conv2d_input(x.shape, w, gy, **kw), **tol)
    if xs[2] == 1:
        # the 1-D API reaches the same kernels
        np.testing.assert_array_equal(
            convx.conv1d(x[:, :, 0], w[:, :, 0], b, padding=kw["padding"][1],
                         groups=kw.get("groups", 1), algorithm="direct"), new[0][:, :, 0])
    xi = rng.integers(-3, 4, xs).astype(f32)
    wi = rng.integers(-3, 4, ws).astype(f32)
    np.testing.assert_array_equal(convx.conv2d(xi, wi, algorithm="direct", **kw),
                                  ref_conv2d(xi, wi, None, **kw))


# (id, input shape, weight shape, kwargs): output channels in blocks of 8 over
# kernel rows of 3, 5 or 7 contiguous taps, which AVX2's float32 forward runs on
# 8-lane channel-vector tiles (CX_DEV_NO_CV8 = 16 switches them off)
CV8_CASES = [
    ("lenet2", (3, 8, 14, 14), (16, 8, 5, 5), dict(padding=2)),
    # lenet2's input gradient as a forward: 16 channels to 8
    ("to8_q14", (2, 16, 14, 14), (8, 16, 5, 5), dict(padding=2)),
    # 9-pixel rows: 12-pixel tiles, a short last transpose block
    ("q9", (2, 5, 9, 9), (24, 5, 3, 3), dict(padding=1)),
    ("q37_stride_h2", (2, 3, 40, 37), (16, 3, 3, 3), dict(padding=1, stride=(2, 1))),
    ("7x7_q30", (2, 4, 9, 30), (8, 4, 7, 7), dict(padding=3)),
    ("groups2_dilation_h2", (2, 6, 12, 13), (16, 3, 5, 5),
     dict(padding=(4, 2), dilation=(2, 1), groups=2)),
    # several bands of rows an image
    ("bands", (1, 3, 150, 60), (16, 3, 3, 3), dict(padding=1)),
]


EDGE_CASES = CV8_CASES + [
    # a pad of 3 on a 5-tap kernel: a top row with two kernel rows on padding
    ("pad3_r5", (2, 4, 11, 12), (16, 4, 5, 5), dict(padding=(3, 2))),
    # asymmetric padding: top edge rows only
    ("top_only", (2, 8, 9, 14), (16, 8, 3, 3), dict(padding=((2, 0), (1, 1)))),
    # edge columns only (no row on padding alone), 30-pixel rows in several tiles
    ("cols_only", (2, 8, 9, 30), (16, 8, 3, 5), dict(padding=(0, 2))),
    # one side each: the right's 3 zero columns, the left's 3 (2 left out)
    ("right_only", (2, 4, 9, 21), (16, 4, 3, 7), dict(padding=((1, 1), (0, 3)))),
    ("left_3_of_5", (2, 4, 9, 15), (16, 4, 3, 5), dict(padding=((1, 1), (3, 0)))),
    # too little padding on the left to leave a tile's 2 pixels out: the right only
    ("left1_right3", (2, 4, 10, 14), (16, 4, 5, 5), dict(padding=((2, 2), (1, 3)))),
    ("left3_right1", (2, 4, 10, 14), (16, 4, 5, 5), dict(padding=((2, 2), (3, 1)))),
    # an image narrower than the kernel: one tile, both ends left out
    ("narrow", (2, 4, 6, 3), (16, 4, 5, 5), dict(padding=2)),
    # no edge rows (a top row with every kernel row on padding; a prepacked
    # weight over 128 KB), padded rows all the same: bands, not x in place
    ("rows_all_pad", (2, 4, 6, 14), (16, 4, 3, 3), dict(padding=((3, 3), (1, 1)))),
    ("big_weight", (1, 64, 5, 14), (64, 64, 3, 3), dict(padding=1)),
]


def _same_without_the_skips(call, dev_flags):
    """call(threads) at 1 thread, after checking that 2 threads, each of the
    padding skips turned off (CX_DEV_NO_EDGE = 256, CX_DEV_NO_ECOL = 512, both)
    the AVX-512 tiles' results through a pixel-major buffer and
    dk_transpose16 rather than transposed in registers and stored in place
    (CX_DEV_NO_FWDCT = 262144), and the tiles reading a band rather than x in
    place where all their products are on the image (CX_DEV_NO_XIN2 = 524288:
    lenet2, to8_q14, bands, pad3_r5, top_only, right_only) and the weight
    packed an element at a time rather than by 16 x 16 transposes
    (CX_DEV_NO_PACK16 = 1048576),
    and the weight gradient's last pass over fewer kernel rows than its tile's
    on the full tile rather than on the 4-, 2- or 1-row forms
    (CX_DEV_NO_WGRADRR = 2097152: every case whose Cg*R kernel rows are not
    a multiple of the tile's, e.g. 7x7_q30, c3_r5, bands_images) give the
    same bits."""
    got = call(1)
    np.testing.assert_array_equal(call(2), got)
    for flags in (256, 512, 768, 262144, 524288, 1048576, 2097152):
        dev_flags(flags)
        every = call(1)
        dev_flags(0)
        np.testing.assert_array_equal(got, every)
    return got


@pytest.mark.parametrize("case", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_channel_tile_edge_rows_skip_the_padding_taps(isa, case, dev_flags):
    """The channel-vector forward tiles run their first and last output rows
    on the taps that reach the image only (dk_edge: the weight compacted per
    edge row when prepacked, the offsets per row), in the same order, and the
    sliding tiles at a row's ends leave out the band's (S-1)/2 pixels of zero
    columns (dk_ecol): the same sums as every tap's (CX_DEV_NO_EDGE = 256,
    CX_DEV_NO_ECOL = 512, each alone and both), on random floats
    (assert_array_equal counts -0 and +0 equal: the skipped taps only add
    zeros), with a bias, 1 and 2 threads, exact on integers; with an inf in
    the weight the padding's products are still NaN where the reference has
    them (conv2d_fwd reports the skipped taps; the API marks their NaNs)."""
    _, xs, ws, kw = case
    f32 = np.float32
    rng = np.random.default_rng(11)
    x = rng.standard_normal(xs).astype(f32)
    w = rng.standard_normal(ws).astype(f32)
    b = rng.standard_normal(ws[0]).astype(f32)
    geo = _geometry(x, w, kw)
    info = _conv.plan_info(geo, "fwd", "direct", f32)
    if info["dk_mode"] != 2:
        pytest.skip(f"{isa}: not on the channel-vector tiles")
    top, bottom = info["edge_rows"]
    assert top + bottom > 0 or info["edge_columns"]
    if case[0] in ("lenet2", "cols_only", "right_only", "left_3_of_5", "left1_right3",
                   "left3_right1", "narrow"):
        assert info["edge_columns"]
    d = dict(algorithm="direct", **kw)
    got = got_b = _same_without_the_skips(lambda t: convx.conv2d(x, w, b, threads=t, **d),
                                          dev_flags)
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    xi = rng.integers(-3, 4, xs).astype(f32)
    wi = rng.integers(-3, 4, ws).astype(f32)
    np.testing.assert_array_equal(convx.conv2d(xi, wi, **d), ref_conv2d(xi, wi, **kw))
    winf = w.copy()
    winf[0, 0, 0, 0] = np.inf
    want = ref_conv2d(x.astype(np.float64), winf.astype(np.float64), **kw)
    got = convx.conv2d(x, winf, **d)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    # channels-last: the same tiles over the same band (its finite weight's
    # edges skipped too, nhwc_fwd's skip_padding), the same bits; a
    # non-finite weight runs every tap there
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    ninfo = _conv.nhwc_plan_info(geo, "fwd", f32)
    if ninfo["direct_tiles"] and kw.get("groups", 1) == 1:
        assert ninfo["edge_rows"] == (top, bottom)
        assert ninfo["edge_columns"] == info["edge_columns"]
    yh = convx.conv2d(xh, w, b, layout="NHWC", threads=2, **kw)
    if ninfo["direct_tiles"]:
        np.testing.assert_array_equal(yh, got_b.transpose(0, 2, 3, 1))
    else:
        np.testing.assert_allclose(yh, got_b.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    with np.errstate(invalid="ignore"):
        goth = convx.conv2d(xh, winf, layout="NHWC", **kw)
    np.testing.assert_array_equal(np.isnan(goth), np.isnan(want.transpose(0, 2, 3, 1)))


WGRAD_EDGE_CASES = EDGE_CASES + [
    # edge rows with a row stride and a row dilation (several kernel rows'
    # ranges a tile), input channels that do not fill the tiles' kernel rows
    ("stride_h2", (2, 8, 13, 14), (16, 8, 5, 5), dict(padding=2, stride=(2, 1))),
    ("dilation_h2", (2, 4, 12, 14), (16, 4, 3, 3), dict(padding=(2, 1), dilation=(2, 1))),
    ("c3_r5", (2, 3, 10, 12), (16, 3, 5, 5), dict(padding=2)),
    # rows too long for one band: column tiles, the first and last at the
    # edges, the last one shorter
    ("column_tiles", (1, 8, 3, 39990), (16, 8, 3, 5), dict(padding=(1, 2))),
    # items of several units (two bands of an image, then the next image's):
    # a band is refilled whole where its layout differs from the last one's
    ("bands_images", (6, 3, 100, 40), (16, 3, 3, 3), dict(padding=1)),
]


@pytest.mark.parametrize("case", WGRAD_EDGE_CASES, ids=[c[0] for c in WGRAD_EDGE_CASES])
def test_channel_tile_weight_gradient_skips_the_padding(isa, case, dev_flags):
    """The channel-vector weight-gradient tiles leave zero padding's products
    out (dk_edge; wgrad_dkc): a tile of kernel rows runs only the output rows
    where one of them reads the image (kernel rows ordered (r, c)), and a
    row's first / last (S-1)/2 band pixels where they are all padding
    columns (dk_ecol). The same sums as every product's (CX_DEV_NO_EDGE =
    256, CX_DEV_NO_ECOL = 512, each alone and both) on random floats, 1 and
    2 threads, exact on integers; an inf or NaN in grad_output where a
    left-out product would have met it still gives the reference's NaNs
    (the kernels report it; the API marks them), as does one inside;
    channels-last input and grad_output the same (on the same tiles, the
    same bits)."""
    _, xs, ws, kw = case
    f32 = np.float32
    rng = np.random.default_rng(12)
    x = rng.standard_normal(xs).astype(f32)
    geo = _geometry(x, np.zeros(ws), kw)
    info = _conv.plan_info(geo, "wgrad", "direct", f32)
    if info["dk_mode"] != 2:
        pytest.skip(f"{isa}: not on the channel-vector weight-gradient tiles")
    top, bottom = info["edge_rows"]
    assert top + bottom > 0 or info["edge_columns"]
    if case[0] == "lenet2":
        assert (top, bottom, info["edge_columns"]) == (2, 2, True)
    if case[0] == "column_tiles":
        assert info["column_tile"] > 0
    if case[0] == "bands_images":
        assert info["ntiles"] > 1 and info["nper"] > 1
    P, Q = geo[7], geo[8]
    gy = rng.standard_normal((xs[0], ws[0], P, Q)).astype(f32)
    d = dict(algorithm="direct", **kw)
    got = _same_without_the_skips(lambda t: convx.conv2d_weight(x, ws, gy, threads=t, **d),
                                  dev_flags)
    ref = ref_conv2d_weight(x.astype(np.float64), ws, gy.astype(np.float64), **kw)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * max(1, Q / 500))
    xi = rng.integers(-3, 4, xs).astype(f32)
    gi = rng.integers(-3, 4, gy.shape).astype(f32)
    np.testing.assert_array_equal(convx.conv2d_weight(xi, ws, gi, **d),
                                  ref_conv2d_weight(xi, ws, gi, **kw))
    # channels-last: the same tiles (nhwc_wgrad sets dk_edge too), the same bits
    nhwc = _conv.nhwc_plan_info(geo, "wgrad", f32)["direct_tiles"]
    xl, gl = x.transpose(0, 2, 3, 1), gy.transpose(0, 2, 3, 1)
    if nhwc and Q < 1000:
        np.testing.assert_array_equal(convx.conv2d_weight(xl, ws, gl, layout="NHWC", **kw), got)
    # one non-finite value each: a top row's, a left column's, a bottom
    # row's right column, an interior pixel's (no product left out there)
    for (p, q, v) in ((0, Q // 2, np.inf), (P // 2, 0, -np.inf), (P - 1, Q - 1, np.nan),
                      (P // 2, Q // 2, np.inf)):
        g2 = gy.copy()
        g2[-1, 0, p, q] = v
        with np.errstate(invalid="ignore"):
            want = ref_conv2d_weight(x.astype(np.float64), ws, g2.astype(np.float64), **kw)
            got = convx.conv2d_weight(x, ws, g2, **d)
            gotl = convx.conv2d_weight(xl, ws, g2.transpose(0, 2, 3, 1), layout="NHWC", **kw)
        for gw in (got, gotl):
            np.testing.assert_array_equal(np.isnan(gw), np.isnan(want))
            np.testing.assert_array_equal(np.isinf(gw), np.isinf(want))


@pytest.mark.parametrize("case", CV8_CASES, ids=[c[0] for c in CV8_CASES])
def test_eight_lane_weight_gradient_tiles(isa, case, dev_flags):
    """AVX2's float32 weight gradient over the same geometries runs channel-
    vector tiles too (8 output channels a vector, grad_output transposed to
    pixel-major vectors, each band pixel broadcast against a window of them):
    exact on integer data, within rounding of the float64 reference on random
    floats (against CX_DEV_NO_CV8's lane tiles too: another summation order),
    1 and 2 threads and both layouts the same bits."""
    _, xs, ws, kw = case
    f32 = np.float32
    rng = np.random.default_rng(6)
    x = rng.standard_normal(xs).astype(f32)
    geo = _geometry(x, np.zeros(ws), kw)
    gy = rng.standard_normal((xs[0], ws[0], geo[7], geo[8])).astype(f32)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    gh = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    d = dict(algorithm="direct", **kw)
    if isa == "avx2":
        assert _conv.plan_info(geo, "wgrad", "direct", f32)["dk_mode"] == 2
    one = convx.conv2d_weight(x, ws, gy, threads=1, **d)
    np.testing.assert_array_equal(convx.conv2d_weight(x, ws, gy, threads=2, **d), one)
    nhwc = convx.conv2d_weight(xh, ws, gh, layout="NHWC", threads=2, **kw)
    # the same bits where both layouts run the same tiles over the same band
    # rows; AVX-512's lane tiles (dk_mode 1: 8 output channels, a 16-lane
    # vector of pixels) shorten NCHW's band rows under zero padding but not
    # channels-last's (whose band gathers write whole vectors), so their
    # flattened sums are cut into other vectors: rounding apart, checked below
    same_rows = isa != "avx512" or _conv.plan_info(geo, "wgrad", "direct", f32)["dk_mode"] != 1
    if _conv.nhwc_plan_info(geo, "wgrad", f32)["direct_tiles"] and same_rows:
        np.testing.assert_array_equal(nhwc, one)
    ref = ref_conv2d_weight(x.astype(np.float64), ws, gy.astype(np.float64), **kw)
    tol = dict(rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(one, ref, **tol)
    np.testing.assert_allclose(nhwc, ref, **tol)
    dev_flags(16)
    assert isa != "avx2" or _conv.plan_info(geo, "wgrad", "direct", f32)["dk_mode"] != 2
    np.testing.assert_allclose(convx.conv2d_weight(x, ws, gy, **d), ref, **tol)
    dev_flags(0)
    xi = rng.integers(-3, 4, xs).astype(f32)
    gi = rng.integers(-3, 4, gy.shape).astype(f32)
    np.testing.assert_array_equal(convx.conv2d_weight(xi, ws, gi, **d),
                                  ref_conv2d_weight(xi, ws, gi, **kw))


@pytest.mark.parametrize("case", CV8_CASES, ids=[c[0] for c in CV8_CASES])
def test_eight_lane_channel_tiles_match_the_tiles_they_replace(isa, case, dev_flags):
    """AVX2's float32 forward over kernel rows of contiguous taps with output
    channels in blocks of 8 runs channel-vector tiles (8 channels a vector,
    results turned into NCHW rows by 8 x 8 transposes, or stored as pixels
    channels-last) where they fill more lanes than the pixel tiles; they sum in
    the pixel tiles' order, so the results are bit for bit the tiles' they
    replace (CX_DEV_NO_CV8 = 16), forward and the input gradient (a forward),
    both layouts, and exact on integer data."""
    _, xs, ws, kw = case
    f32 = np.float32
    rng, x, w, b, geo, gy = _random_layer(case, 5)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    gh = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))

    def ops(threads=1):
        d = dict(algorithm="direct", threads=threads, **kw)
        return (convx.conv2d(x, w, b, **d), convx.conv2d_input(x.shape, w, gy, **d),
                convx.conv2d(xh, w, b, layout="NHWC", **kw, threads=threads).transpose(0, 3, 1, 2),
                convx.conv2d_input(xh.shape, w, gh, layout="NHWC", **kw,
                                   threads=threads).transpose(0, 3, 1, 2))

    plan = _conv.plan_info(geo, "fwd", "direct", f32)
    if isa == "avx2":
        assert plan["dk_mode"] == 2 and plan["dk_tile"][0] == 8, plan
    dev_flags(16)
    old = ops()
    assert isa != "avx2" or _conv.plan_info(geo, "fwd", "direct", f32)["dk_mode"] != 2
    dev_flags(0)
    new = ops()
    # NCHW: the same plan with either tile; channels-last's forward runs the
    # NCHW forward's tiles (with the switch, groups > 1 took the GEMM there)
    np.testing.assert_array_equal(new[0], old[0])
    np.testing.assert_array_equal(new[1], old[1])
    if plan["dk_mode"] == 2:
        np.testing.assert_array_equal(new[2], new[0])
    for a, o in zip(ops(threads=2), new):
        np.testing.assert_array_equal(a, o)
    for a, o in zip(new, old):
        np.testing.assert_allclose(a, o, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new[0], ref_conv2d(x, w, b, **kw), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new[1], ref_conv2d_input(x.shape, w, gy, **kw),
                               rtol=1e-4, atol=1e-4)
    xi = rng.integers(-3, 4, xs).astype(f32)
    wi = rng.integers(-3, 4, ws).astype(f32)
    bi = rng.integers(-3, 4, ws[0]).astype(f32)
    np.testing.assert_array_equal(convx.conv2d(xi, wi, bi, algorithm="direct", **kw),
                                  ref_conv2d(xi, wi, bi, **kw))


@pytest.mark.parametrize("width", [5, 16, 20, 28, 32, 45])
def test_nhwc_eight_channel_gather_matches_the_one_it_replaces(dev_flags, width):
    """The channels-last band fill of exactly 8 channels (32 pixels a transpose,
    CX_DEV_NO_GATHER32 = 4 switches it off) copies the same values: bit for bit
    the same results on random floats, for row widths below, at and above 16
    and 32 pixels, and equal to the NCHW result on integer data. Pixels of
    exactly 8 channels take the permute form of contiguous pixels, groups of 8
    in wider pixels the transposing one."""
    rng = np.random.default_rng(width)
    x = rng.standard_normal((3, 8, 7, width)).astype(np.float32)
    w = rng.standard_normal((4, 8, 3, 5)).astype(np.float32)
    gy = rng.standard_normal((3, 8, 9, width)).astype(np.float32)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    gn = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    w8 = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    # one input channel to 8 (lenet1's first layer): the weight gradient gathers
    # grad_output's 8 channels per pixel into channel rows
    x1 = rng.standard_normal((3, 9, width, 1)).astype(np.float32)
    g8 = rng.standard_normal((3, 9, width, 8)).astype(np.float32)
    # two groups of 8 channels in 16-channel pixels (the gather's pixel stride 16)
    x16 = rng.standard_normal((2, 6, width, 16)).astype(np.float32)
    w16 = rng.standard_normal((4, 8, 3, 3)).astype(np.float32)
    g16 = rng.standard_normal((2, 6, width, 4)).astype(np.float32)
    runs = {}
    for flags in (0, 4):
        dev_flags(flags)
        runs[flags] = (
            convx.conv2d(xn, w, padding=(1, 2), layout="NHWC", algorithm="direct"),
            # 8 channels of grad_output into 1: the input gradient's forward
            convx.conv2d_input((3, 11, width + 2, 1), w8, gn, layout="NHWC",
                               algorithm="direct"),
            convx.conv2d_weight(x1, (8, 1, 5, 5), g8, padding=2, layout="NHWC",
                                algorithm="direct"),
            convx.conv2d(x16, w16, padding=1, groups=2, layout="NHWC", algorithm="direct"),
            convx.conv2d_weight(x16, w16.shape, g16, padding=1, groups=2, layout="NHWC",
                                algorithm="direct"))
    for a, b in zip(runs[0], runs[4]):
        np.testing.assert_array_equal(a, b)
    dev_flags(0)
    xi = rng.integers(-3, 4, x.shape).astype(np.float32)
    wi = rng.integers(-3, 4, w.shape).astype(np.float32)
    np.testing.assert_array_equal(
        convx.conv2d(np.ascontiguousarray(xi.transpose(0, 2, 3, 1)), wi, padding=(1, 2),
                     layout="NHWC", algorithm="direct").transpose(0, 3, 1, 2),
        convx.conv2d(xi, wi, padding=(1, 2), algorithm="direct"))
    x1i = rng.integers(-3, 4, x1.shape).astype(np.float32)
    g8i = rng.integers(-3, 4, g8.shape).astype(np.float32)
    np.testing.assert_array_equal(
        convx.conv2d_weight(x1i, (8, 1, 5, 5), g8i, padding=2, layout="NHWC",
                            algorithm="direct"),
        ref_conv2d_weight(x1i.transpose(0, 3, 1, 2), (8, 1, 5, 5), g8i.transpose(0, 3, 1, 2),
                          padding=2))
    x16i = rng.integers(-3, 4, x16.shape).astype(np.float32)
    w16i = rng.integers(-3, 4, w16.shape).astype(np.float32)
    np.testing.assert_array_equal(
        convx.conv2d(x16i, w16i, padding=1, groups=2, layout="NHWC",
                     algorithm="direct").transpose(0, 3, 1, 2),
        ref_conv2d(x16i.transpose(0, 3, 1, 2), w16i, padding=1, groups=2))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_fresh_workspace_never_passes_for_a_kept_band(layout):
    """A forward item keeps its band and tap offsets when its workspace slot
    holds the call's stamp; a fresh workspace whose memory happens to hold that
    number (mode 2 of the poisoning switch writes it there) must not pass for
    one: every slot's stamp is cleared when the workspace is made. (CI once
    crashed on the first call of a process this way.)"""
    rng = np.random.default_rng(30)
    x = rng.integers(-3, 4, (4, 8, 12, 12)).astype(np.float32)
    w = rng.integers(-3, 4, (16, 8, 3, 3)).astype(np.float32)
    want = ref_conv2d(x, w, padding=1)
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "NHWC" else x
    was = _conv._set_poison_workspace(2)
    try:
        for threads in (1, 2):
            y = convx.conv2d(xl, w, padding=1, layout=layout, algorithm="direct",
                             threads=threads)
            y = y.transpose(0, 3, 1, 2) if layout == "NHWC" else y
            np.testing.assert_array_equal(y, want)
    finally:
        _conv._set_poison_workspace(was)


# (id, input shape, weight shape, kwargs, (forward, input gradient) routed):
# output channels in blocks of 8 (not 16) over kernel rows of 3 or 5
# contiguous taps; on AVX-512 CPUs that run 512-bit FMAs as two halves the
# float32 forward (and the input gradient, which runs as one) plans AVX2's
# 8-lane channel-vector tiles where they fill more lanes (cx_conv_dispatch.c;
# channels-last wherever AVX2 has them)
HALVES_CASES = [
    ("q7", (3, 8, 7, 7), (8, 8, 3, 3), dict(padding=1), (True, True)),
    # lenet2: its forward has 16 output channels (AVX-512's own channel
    # tiles), its input gradient is a forward to 8
    ("lenet2", (2, 8, 14, 14), (16, 8, 5, 5), dict(padding=2), (False, True)),
    ("q20_k24", (2, 8, 20, 20), (24, 8, 3, 3), dict(padding=1), (True, True)),
    ("q56", (1, 8, 9, 56), (8, 8, 3, 3), dict(padding=1), (True, True)),
    ("groups2_q10", (2, 16, 12, 10), (16, 8, 5, 5), dict(padding=2, groups=2), (True, True)),
    # 28-pixel rows: AVX-512's pixel tiles use 28 of 32 lanes, AVX2's 7-pixel
    # tiles model at 0.83x them: NCHW stays on AVX-512
    ("q28", (2, 8, 10, 28), (8, 8, 3, 3), dict(padding=1), (False, False)),
]


@pytest.mark.skipif("avx512" not in PATHS, reason="this CPU has no AVX-512")
@pytest.mark.parametrize("case", HALVES_CASES, ids=[c[0] for c in HALVES_CASES])
def test_avx512_halves_plan_the_avx2_eight_lane_tiles(case, dev_flags):
    """With CX_DEV_HALVES (16384: plan as on a CPU whose AVX-512 units are 256
    bits wide) the AVX-512 path's float32 forward and input gradient (a
    forward), their channels-last and reflect-padded forms run the AVX2
    path's plan and drivers where plan_info's "path" says so: then bit for bit
    what the AVX2 path computes, 1 and 2 threads; exact on integer data. With
    CX_DEV_NO_HALVES (8192) the AVX-512 plans, within rounding of them. Weight
    gradients and float64 are never routed."""
    _, xs, ws, kw, routed = case
    f32 = np.float32
    rng, x, w, b, geo, gy = _random_layer(case[:4], 17)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    gh = np.ascontiguousarray(gy.transpose(0, 2, 3, 1))
    g = convx._api._geometry(xs, ws, 1, kw["padding"], 1, kw.get("groups", 1))
    fgeo = convx._api._dgrad_forward_geometry(g).astuple()

    def ops(threads):
        d = dict(algorithm="direct", threads=threads, **kw)
        return (convx.conv2d(x, w, b, **d), convx.conv2d_input(x.shape, w, gy, **d),
                convx.conv2d(xh, w, b, layout="NHWC", threads=threads, **kw),
                convx.conv2d_input(xh.shape, w, gh, layout="NHWC", threads=threads, **kw),
                convx.conv2d(x, w, b, padding_mode="reflect", **d),
                convx.conv2d_input(x.shape, w, gy, padding_mode="reflect", **d),
                convx.conv2d_weight(x, ws, gy, **d))

    def paths():
        return (_conv.plan_info(geo, "fwd", "direct", f32)["path"],
                _conv.plan_info(fgeo, "fwd", "direct", f32)["path"],
                _conv.nhwc_plan_info(geo, "fwd", f32)["path"],
                _conv.nhwc_plan_info(fgeo, "fwd", f32)["path"])

    before = _conv.active_isa()
    try:
        _conv.select_isa("avx2")
        want = ops(1)
        _conv.select_isa("avx512")
        dev_flags(16384)
        p = paths()
        assert (p[0] == "avx2", p[1] == "avx2") == routed, p
        # channels-last: wherever AVX-512 has no channel tiles (8k channels)
        assert (p[2] == "avx2", p[3] == "avx2") == (g.K // g.groups % 16 != 0,
                                                    g.C // g.groups % 16 != 0), p
        assert _conv.plan_info(geo, "wgrad", "direct", f32)["path"] == "avx512"
        assert _conv.plan_info(geo, "fwd", "direct", np.float64)["path"] == "avx512"
        got = ops(1)
        same = [p[0] == "avx2", p[1] == "avx2", p[2] == "avx2", p[3] == "avx2",
                p[0] == "avx2", p[1] == "avx2", False]
        assert any(same)
        for t, res in ((1, got), (2, ops(2))):
            for i, (a, o) in enumerate(zip(res, want)):
                if same[i]:
                    np.testing.assert_array_equal(a, o, err_msg=f"op {i}, {t} thread(s)")
        xi = rng.integers(-3, 4, xs).astype(f32)
        wi = rng.integers(-3, 4, ws).astype(f32)
        gi = rng.integers(-3, 4, gy.shape).astype(f32)
        np.testing.assert_array_equal(convx.conv2d(xi, wi, algorithm="direct", **kw),
                                      ref_conv2d(xi, wi, **kw))
        np.testing.assert_array_equal(
            convx.conv2d_input(xi.shape, wi, gi, algorithm="direct", **kw),
            ref_conv2d_input(xi.shape, wi, gi, **kw))
        dev_flags(8192)
        assert paths() == ("avx512",) * 4
        old = ops(1)
    finally:
        _conv.select_isa(before)
    f64 = np.float64
    refs = (ref_conv2d(x.astype(f64), w.astype(f64), b.astype(f64), **kw),
            ref_conv2d_input(x.shape, w.astype(f64), gy.astype(f64), **kw))
    for a, o in zip(got, old):
        np.testing.assert_allclose(a, o, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[0], refs[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1], refs[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[2], refs[0].transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[3], refs[1].transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)


# (id, x shape, w shape, kwargs): layers whose forward (or input gradient's
# forward form) runs blocks of one output channel on the row-walking tiles
ZROWS_CASES = [
    ("k1_5x5_pad2", (3, 3, 13, 30), (1, 3, 5, 5), dict(padding=2)),
    ("k3_3x3_pad1", (2, 4, 11, 17), (3, 4, 3, 3), dict(padding=1)),          # blocks 2 + 1
    ("k1_3x3_top_only", (2, 2, 9, 40), (1, 2, 3, 3), dict(padding=((2, 0), (1, 1)))),
    ("k1_3x3_bottom_only", (2, 2, 10, 7), (1, 2, 3, 3), dict(padding=((0, 2), (1, 1)))),
    ("k1_5x5_pad_beyond_kernel", (1, 2, 6, 20), (1, 2, 5, 5), dict(padding=(6, 2))),
    ("k1_5x5_short_image", (2, 1, 3, 64), (1, 1, 5, 5), dict(padding=2)),
    ("depthwise_mult_5x5", (2, 3, 12, 33), (3, 1, 5, 5), dict(padding=2, groups=3)),
    # an output over 8 MiB: the tiles write a buffer, streamed out (dk_stream)
    ("streamed_5x5", (320, 1, 250, 28), (1, 1, 5, 5), dict(padding=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", ZROWS_CASES, ids=[c[0] for c in ZROWS_CASES])
def test_row_walking_tiles_leave_zero_rows_out(dev_flags, dtype, case):
    """The one-channel row-walking tiles leave out the band rows that hold
    zero padding (dk_fwdre; CX_DEV_NO_ZROWS multiplies them): the forward,
    the input gradient (whose forward form pads grad_output by R - 1) and a
    padding mode's fused input gradient, on integer data exactly the
    reference, on random reals bit for bit the multiplying tiles' (a skipped
    product is an exact zero), at 1 and 3 threads; with inf in the weight the
    forward's NaNs where it meets the padding are still there."""
    _, xs, ws, kw = case
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    want = ref_conv2d(x, w, **kw)
    gy = rng.integers(-3, 4, want.shape).astype(np.float64)
    want_dx = ref_conv2d_input(xs, w, gy, **kw)
    xr, wr = rng.standard_normal(xs), rng.standard_normal(ws)
    gr = rng.standard_normal(want.shape)
    for threads in (1, 3):
        got = {}
        for flags in (0, 33554432):
            dev_flags(flags)
            y = convx.conv2d(x.astype(dtype), w.astype(dtype), algorithm="direct",
                             threads=threads, **kw)
            dx = convx.conv2d_input(xs, w.astype(dtype), gy.astype(dtype), algorithm="direct",
                                    threads=threads, **kw)
            np.testing.assert_array_equal(y, want)
            np.testing.assert_array_equal(dx, want_dx)
            got[flags] = [convx.conv2d(xr.astype(dtype), wr.astype(dtype), algorithm="direct",
                                       threads=threads, **kw),
                          convx.conv2d_input(xs, wr.astype(dtype), gr.astype(dtype),
                                             algorithm="direct", threads=threads, **kw)]
            if "groups" not in kw and max(max(p) for p in _padding_pairs(kw["padding"])) <= 2:
                got[flags].append(convx.conv2d_input(xs, wr.astype(dtype), gr.astype(dtype),
                                                     algorithm="direct", threads=threads,
                                                     padding_mode="circular", **kw))
        dev_flags(0)
        for a, b in zip(got[0], got[33554432]):
            np.testing.assert_array_equal(a, b)
    wi = w.copy()
    wi[0, 0, 0, -1] = np.inf           # kernel row 0: reads the top padding
    with np.errstate(invalid="ignore"):
        ref = ref_conv2d(x, wi, **kw)
    y = convx.conv2d(x.astype(dtype), wi.astype(dtype), algorithm="direct", **kw)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    fin = ~np.isnan(ref)
    np.testing.assert_array_equal(y[fin], ref[fin])


def _padding_pairs(padding):
    """((top, bottom), (left, right)) of an int, a pair or a pair of pairs."""
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    return tuple(p if isinstance(p, tuple) else (p, p) for p in padding)


# (id, x shape, w shape, padding): rows of one and two vectors of input (16
# float32 lanes, 8 float64), square and uneven padding
PADPERM_CASES = [
    ("w5", (2, 3, 6, 5), (4, 3, 3, 3), 1),
    ("w14_lenet2", (3, 8, 14, 14), (16, 8, 5, 5), 2),
    ("w16", (2, 2, 7, 16), (3, 2, 3, 3), (1, (2, 1))),
    ("w17", (2, 2, 5, 17), (5, 2, 3, 5), ((1, 0), (2, 2))),
    ("w28_lenet1", (2, 1, 28, 28), (8, 1, 5, 5), 2),
    ("w32", (1, 3, 9, 32), (2, 3, 3, 3), (0, (1, 2))),
]
NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", PADPERM_CASES, ids=[c[0] for c in PADPERM_CASES])
def test_mode_band_rows_by_permutes(dev_flags, dtype, case):
    """A padding mode's band rows of at most two input vectors made by one
    permute a band vector (AVX-512; CX_DEV_NO_PADPERM: loads, stores and the
    padded columns' scalar copies): the forward and the weight gradient on
    integer data exactly those of the input padded by numpy, on random reals
    bit for bit the other form's, at 1 and 3 threads."""
    _, xs, ws, padding = case
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.integers(-3, 4, xs).astype(dtype)
    w = rng.integers(-3, 4, ws).astype(dtype)
    xr, wr = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    (t, b), (l, r) = _padding_pairs(padding)
    for mode, npm in NP_MODES.items():
        xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), mode=npm)
        want = convx.conv2d(xp, w, algorithm="direct")
        gy = rng.integers(-3, 4, want.shape).astype(dtype)
        want_dw = convx.conv2d_weight(xp, ws, gy, algorithm="direct")
        gr = rng.standard_normal(want.shape).astype(dtype)
        for threads in (1, 3):
            got = []
            for flags in (0, 67108864):
                dev_flags(flags)
                kw = dict(padding=padding, padding_mode=mode, algorithm="direct",
                          threads=threads)
                np.testing.assert_array_equal(convx.conv2d(x, w, **kw), want)
                np.testing.assert_array_equal(convx.conv2d_weight(x, ws, gy, **kw), want_dw)
                got.append((convx.conv2d(xr, wr, **kw), convx.conv2d_weight(xr, ws, gr, **kw)))
            dev_flags(0)
            for a, c in zip(*got):
                np.testing.assert_array_equal(a, c)


NO_FOLD = 268435456     # CX_DEV_NO_FOLD

# (id, x shape, w shape, padding, groups): "same" padding on the sliding
# channel-vector tiles (16 output channels a group), rows of one tile (lenet2's
# 14, a 6-wide image with 5x5 taps, 7x7 on 12 and on 4 columns: edge tiles
# whose left and right folds meet) and of several (24 and 28 columns), groups;
# and paddings of rows alone (folded, the columns in the band) or columns
# alone (the band's: columns fold only with the rows)
FOLD_CASES = [
    ("lenet2", (3, 8, 14, 14), (16, 8, 5, 5), 2, 1),
    ("w6_5x5", (2, 4, 6, 6), (16, 4, 5, 5), 2, 1),
    ("w12_7x7", (2, 3, 12, 12), (16, 3, 7, 7), 3, 1),
    ("w4_7x7", (2, 4, 5, 4), (16, 4, 7, 7), 3, 1),
    ("w24_3x3", (2, 3, 9, 24), (16, 3, 3, 3), 1, 1),
    ("w28_3x3_groups", (2, 8, 10, 28), (32, 4, 3, 3), 1, 2),
    ("uneven", (2, 4, 9, 28), (16, 4, 3, 5), (1, 2), 1),
    ("rows_only", (2, 4, 10, 10), (16, 4, 3, 3), (1, 0), 1),
    ("cols_only", (2, 4, 10, 14), (16, 4, 3, 3), (0, 1), 1),
]


def _fold_layer(case, dtype, integers):
    _, xs, ws, padding, groups = case
    rng = np.random.default_rng(sum(xs) + sum(ws) + integers)
    if integers:
        return (rng.integers(-3, 4, xs).astype(dtype), rng.integers(-3, 4, ws).astype(dtype))
    return rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)


def _channels_last(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("case", FOLD_CASES, ids=[c[0] for c in FOLD_CASES])
def test_mode_forward_folds_the_padding_onto_the_taps(isa, dev_flags, case):
    """A reflect or replicate padding on the sliding channel-vector forward
    tiles: the edge rows' weights carry the padded kernel rows' taps, the edge
    tiles add the padded columns' taps onto the taps of the columns they copy
    (cx_dk_fold), over a band of zero padding where both fold. On integer data
    exactly the forward of the input padded by numpy, both layouts, 1 and 3
    threads; on random reals within float32 rounding of it, and not bit for bit
    CX_DEV_NO_FOLD's (the band's padded copies multiplied) where the fold
    reassociates the sums: the folded tiles ran (not where the columns alone
    have padding)."""
    _, xs, ws, padding, groups = case
    (t, b), (l, r) = _padding_pairs(padding)
    folds = False
    for mode in ("reflect", "replicate"):
        npm = NP_MODES[mode]
        for integers in (True, False):
            x, w = _fold_layer(case, np.float32, integers)
            xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), mode=npm)
            want = convx.conv2d(xp.astype(np.float64), w.astype(np.float64), groups=groups)
            for layout in ("NCHW", "NHWC"):
                xi = _channels_last(x) if layout == "NHWC" else x
                for threads in (1, 3):
                    kw = dict(padding=padding, padding_mode=mode, groups=groups,
                              algorithm="direct", threads=threads, layout=layout)
                    got = convx.conv2d(xi, w, **kw)
                    dev_flags(NO_FOLD)
                    band = convx.conv2d(xi, w, **kw)
                    dev_flags(0)
                    if layout == "NHWC":
                        got, band = got.transpose(0, 3, 1, 2), band.transpose(0, 3, 1, 2)
                    if integers:
                        np.testing.assert_array_equal(got, want)
                        np.testing.assert_array_equal(band, want)
                    else:
                        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
                        folds |= not np.array_equal(got, band)
    # (no channel-vector tiles on the generic path; columns fold only with
    # the rows, cols_only's padding has none)
    assert folds == (isa != "generic" and case[0] != "cols_only")


@pytest.mark.parametrize("case", FOLD_CASES[:4], ids=[c[0] for c in FOLD_CASES[:4]])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan], ids=["inf", "-inf", "nan"])
def test_mode_forward_fold_keeps_nonfinite_inputs(isa, case, bad):
    """An inf in the input's border would make (w_a + w_b) * inf = inf where
    the padded sum w_a * inf + w_b * inf is NaN (taps of mixed signs): an
    item whose input is not finite runs unfolded. The NaN and inf outputs of
    the input padded by numpy, at each corner, each edge and the middle."""
    _, xs, ws, padding, groups = case
    (t, b), (l, r) = _padding_pairs(padding)
    H, W = xs[2], xs[3]
    for mode in ("reflect", "replicate"):
        x, w = _fold_layer(case, np.float32, False)
        for i, j in [(0, 0), (1, W - 1), (H - 1, 1), (H - 2, W - 2), (H // 2, 0),
                     (0, W // 2), (H // 2, W // 2)]:
            xb = x.copy()
            xb[1, 0, i, j] = bad
            xp = np.pad(xb, ((0, 0), (0, 0), (t, b), (l, r)), mode=NP_MODES[mode])
            with np.errstate(invalid="ignore", over="ignore"):
                want = convx.conv2d(xp.astype(np.float64), w.astype(np.float64), groups=groups)
            for layout in ("NCHW", "NHWC"):
                xi = _channels_last(xb) if layout == "NHWC" else xb
                got = convx.conv2d(xi, w, padding=padding, padding_mode=mode, groups=groups,
                                   algorithm="direct", layout=layout)
                if layout == "NHWC":
                    got = got.transpose(0, 3, 1, 2)
                for kind in (np.isnan, np.isposinf, np.isneginf):
                    np.testing.assert_array_equal(kind(got), kind(want))
                fin = np.isfinite(want)
                np.testing.assert_allclose(got[fin], want[fin], rtol=2e-5, atol=2e-5)


EMBC, NO_EMBC = 1 << 32, 1 << 33       # CX_DEV_EMBC, CX_DEV_NO_EMBC
EMBC_CASES = FOLD_CASES[:6] + [
    ("k32_w56_3x3", (2, 16, 6, 56), (32, 16, 3, 3), 1, 1),
    ("k16_w30_5x5", (1, 8, 7, 30), (16, 8, 5, 5), 2, 1),
]


@pytest.mark.skipif("avx512" not in PATHS, reason="this CPU has no AVX-512")
@pytest.mark.parametrize("case", EMBC_CASES, ids=[c[0] for c in EMBC_CASES])
def test_sliding_tiles_embedded_broadcasts_same_bits(dev_flags, case):
    """The AVX-512 float32 sliding channel-vector tiles in their two forms, an
    FMA's own broadcast of its pixel (CX_DEV_EMBC, taken where 512-bit FMAs run
    as halves) and a pixel broadcast once for its S taps (CX_DEV_NO_EMBC,
    elsewhere): the same FMAs in the same order, so the same bits, forward and
    stride-1 input gradient (a forward on the same tiles), zero padding's edge
    tiles and a reflect or replicate padding's folded ones, 1 and 2 threads;
    both within float32 rounding of the float64 forward. And the default is
    one of the two."""
    _, xs, ws, padding, groups = case
    before = _conv.active_isa()
    try:
        _conv.select_isa("avx512")
        x, w = _fold_layer(case, np.float32, False)
        want = convx.conv2d(x.astype(np.float64), w.astype(np.float64), padding=padding,
                            groups=groups)
        gy = np.random.default_rng(5).standard_normal(want.shape).astype(np.float32)
        for mode in ("zeros", "reflect", "replicate"):
            for threads in (1, 2):
                kw = dict(padding=padding, groups=groups, padding_mode=mode,
                          algorithm="direct", threads=threads)
                got = {}
                for flags in (0, EMBC, NO_EMBC):
                    dev_flags(flags)
                    got[flags] = (convx.conv2d(x, w, **kw),
                                  convx.conv2d_input(x.shape, w, gy, **kw))
                dev_flags(0)
                for a, b in zip(got[EMBC], got[NO_EMBC]):
                    np.testing.assert_array_equal(a, b)
                for a, b in zip(got[0], got[NO_EMBC]):
                    np.testing.assert_array_equal(a, b)
                if mode == "zeros":
                    np.testing.assert_allclose(got[EMBC][0], want, rtol=2e-5, atol=2e-5)
    finally:
        _conv.select_isa(before)


@pytest.mark.skipif("avx512" not in PATHS, reason="this CPU has no AVX-512")
def test_conv3d_sliding_tiles_embedded_broadcasts_same_bits(dev_flags):
    """conv3d's native forward and input gradient (the depth-folded channels on
    the same sliding tiles) give the same bits with either broadcast form."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 5, 9, 30)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 32, 5, 9, 30)).astype(np.float32)
    before = _conv.active_isa()
    try:
        _conv.select_isa("avx512")
        got = []
        for flags in (EMBC, NO_EMBC):
            dev_flags(flags)
            got.append((convx.conv3d(x, w, padding=1, algorithm="direct"),
                        convx.conv3d_input(x.shape, w, gy, padding=1, algorithm="direct")))
        dev_flags(0)
        for a, b in zip(*got):
            np.testing.assert_array_equal(a, b)
        ref = convx.conv3d(x.astype(np.float64), w.astype(np.float64), padding=1)
        np.testing.assert_allclose(got[0][0], ref, rtol=2e-5, atol=2e-4)
    finally:
        _conv.select_isa(before)
