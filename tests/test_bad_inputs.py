"""Hostile inputs: the bug families convolution ops elsewhere shipped, for all three operations.

TensorFlow's 2021-2023 convolution advisories and PyTorch's crash reports fall
into a few families: a division by a zero dimension, a buffer sized from one
argument and indexed from another, a kernel run on an empty tensor, size
arithmetic that overflowed, a rank nobody checked, stride 0 / groups 0 / huge
paddings. For conv2d, conv2d_weight and conv2d_input this file specifies:

* every integer argument (stride, padding, dilation, groups, threads, and
  every entry of weight_size and input_size) given zero, negative, huge
  (2**62, 2**64), non-integer and bool values: a TypeError for a wrong type
  (``stride=True`` included), a ValueError for a wrong value, each naming the
  argument (and showing a scalar value);
* every rank and shape mismatch between input, weight, bias, weight_size,
  input_size and grad_output: a ValueError naming one of the two arguments
  that disagree;
* zero-sized dimensions anywhere: N, C (with padding the output is all
  bias), H and W (with "same", or with padding wide enough for the kernel),
  K; results equal the reference, and no element is left unwritten (every
  buffer starts as NaN, see hostile.poisoned);
* kernels larger than the padded input, dilated or not, and the exact fit;
* huge paddings, strides and dilations whose offsets are far beyond 2**31
  but whose outputs are small (every tap in the padding: all bias).

Shape products and memory beyond 2**31 and beyond the machine are in
test_limits.py; NaN, inf, subnormal and near-FLT_MAX values in
test_nonfinite.py.
"""

import fractions
import re

import numpy as np
import pytest

import convx
from hostile import OPS, SUBRUN, names, poisoned, reference, run_op

pytestmark = pytest.mark.skipif(
    SUBRUN, reason="validation and empty-shape handling do not depend on the SIMD path")

# Shared geometry: input (2, 4, 6, 6), weight (6, 4, 3, 3) -> output (2, 6, 4, 4).
XS, WS, YS = (2, 4, 6, 6), (6, 4, 3, 3), (2, 6, 4, 4)


def X(shape=XS, dtype=np.float32):
    return np.ones(shape, dtype)


def Wt(shape=WS, dtype=np.float32):
    return np.ones(shape, dtype)


def B(k=6, dtype=np.float32):
    return np.ones(k, dtype)


def GY(shape=YS, dtype=np.float32):
    return np.ones(shape, dtype)


def call(op, **kw):
    """op on the shared problem, with keyword arguments replaced."""
    if op == "conv2d":
        return convx.conv2d(X(), Wt(), B(), **kw)
    if op == "conv2d_weight":
        return convx.conv2d_weight(X(), WS, GY(), **kw)
    return convx.conv2d_input(XS, Wt(), GY(), **kw)


def expect(exc, pattern, fn):
    with pytest.raises(exc) as info:
        fn()
    assert re.search(pattern, str(info.value)), f"message does not name it: {info.value}"


# ---------------------------------------------------------------------------
# Every integer argument: zero, negative, huge, non-integer, bool
# ---------------------------------------------------------------------------

# (value, id, exception for stride/dilation, for padding, for groups, for threads)
# None as an exception means: the value is valid there.
V, T = ValueError, TypeError
SCALARS = [
    (0, "zero", V, None, V, V),
    (-1, "minus1", V, V, V, V),
    (-(2**31), "minus2_31", V, V, V, V),
    (2**62, "2_62", V, V, V, V),
    (2**63 - 1, "int64_max", V, V, V, V),
    (2**64, "2_64", V, V, V, V),
    (-(2**64), "minus2_64", V, V, V, V),
    (np.uint64(2**64 - 1), "uint64_max", V, V, V, V),
    (np.int64(-1), "np_int64_minus1", V, V, V, V),
    (1.5, "float", T, T, T, T),
    (2.0, "integral_float", T, T, T, T),
    (np.float32(1), "np_float32", T, T, T, T),
    (float("nan"), "nan", T, T, T, T),
    (float("inf"), "inf", T, T, T, T),
    (True, "True", T, T, T, T),
    (False, "False", T, T, T, T),
    (np.bool_(True), "np_True", T, T, T, T),
    (1j, "complex", T, T, T, T),
    (fractions.Fraction(2, 1), "Fraction", T, T, T, T),
    ("1", "str", T, V, T, T),    # padding: an unknown string
    (b"1", "bytes", T, T, T, T),
    (None, "None", T, T, T, None),
    (object(), "object", T, T, T, T),
]
PAIRS = [
    ((1, 0), "pair_zero", V, None, T, T),
    ((1, -1), "pair_negative", V, V, T, T),
    ((1, 2**62), "pair_2_62", V, V, T, T),
    ((2**64, 1), "pair_2_64", V, V, T, T),
    ((1, True), "pair_bool", T, T, T, T),
    ((1, 1.0), "pair_float", T, T, T, T),
    ((1, None), "pair_None", T, T, T, T),
    ((1,), "length1", V, V, T, T),
    ((1, 1, 1), "length3", V, V, T, T),
    ((), "length0", V, V, T, T),
]
ARG_COLUMN = {"stride": 2, "dilation": 2, "padding": 3, "groups": 4, "threads": 5}


def _int_cases():
    for arg, col in ARG_COLUMN.items():
        for row in SCALARS + PAIRS:
            if row[col] is None:
                continue
            for op in OPS:
                yield pytest.param(op, arg, row[0], row[col], id=f"{op}-{arg}-{row[1]}")


@pytest.mark.parametrize("op, arg, value, exc", list(_int_cases()))
def test_bad_integer_argument(op, arg, value, exc):
    """Each integer argument of each operation: TypeError for a wrong type,
    ValueError for a wrong value, naming the argument."""
    expect(exc, names(arg, value), lambda: call(op, **{arg: value}))


SIZE_ENTRIES = [
    (-1, "minus1", V), (2**62, "2_62", V), (2**64, "2_64", V), (-(2**64), "minus2_64", V),
    (np.uint64(2**64 - 1), "uint64_max", V), (3.0, "float", T), (True, "bool", T),
    (np.bool_(False), "np_bool", T), (None, "None", T), ("3", "str", T), (1j, "complex", T),
]


@pytest.mark.parametrize("value, exc", [pytest.param(v, e, id=i) for v, i, e in SIZE_ENTRIES])
@pytest.mark.parametrize("position", range(4), ids=["K", "Cg", "R", "S"])
def test_bad_weight_size_entry(position, value, exc):
    """Every entry of weight_size: same rules as an integer argument (0 is
    tested with the shapes, below)."""
    size = list(WS)
    size[position] = value
    expect(exc, names("weight_size", value), lambda: convx.conv2d_weight(X(), tuple(size), GY()))


@pytest.mark.parametrize("value, exc", [pytest.param(v, e, id=i) for v, i, e in SIZE_ENTRIES])
@pytest.mark.parametrize("position", range(4), ids=["N", "C", "H", "W"])
def test_bad_input_size_entry(position, value, exc):
    """Every entry of input_size: same rules as an integer argument."""
    size = list(XS)
    size[position] = value
    expect(exc, names("input_size", value), lambda: convx.conv2d_input(tuple(size), Wt(), GY()))


@pytest.mark.parametrize("size, exc", [
    pytest.param(6, T, id="int"), pytest.param(None, T, id="None"), pytest.param("6433", T, id="str"),
    pytest.param({6, 4, 3, 1}, T, id="set"), pytest.param((6, 4, 3), V, id="len3"),
    pytest.param((6, 4, 3, 3, 1), V, id="len5"), pytest.param((), V, id="len0"),
    pytest.param(np.zeros((2, 2), int), V, id="2d_array"),
])
def test_bad_weight_size_container(size, exc):
    expect(exc, names("weight_size"), lambda: convx.conv2d_weight(X(), size, GY()))


@pytest.mark.parametrize("size, exc", [
    pytest.param(6, T, id="int"), pytest.param(None, T, id="None"), pytest.param("2466", T, id="str"),
    pytest.param((4, 6), V, id="len2"), pytest.param((1, 2, 4, 6, 6), V, id="len5"),
    pytest.param((), V, id="len0"),
])
def test_bad_input_size_container(size, exc):
    expect(exc, names("input_size"), lambda: convx.conv2d_input(size, Wt(), GY()))


# ---------------------------------------------------------------------------
# Ranks
# ---------------------------------------------------------------------------

RANKS = [0, 1, 2, 5, 6]


def _of_rank(shape, ndim):
    """A fresh array of rank ndim built from shape (trimmed or padded with 1s)."""
    shape = tuple(shape)[:ndim] + (1,) * max(0, ndim - len(shape))
    return np.ones(shape, np.float32)


@pytest.mark.parametrize("ndim", RANKS + [3], ids=lambda n: f"{n}d")
@pytest.mark.parametrize("op", ["conv2d", "conv2d_weight"])
def test_input_rank(op, ndim):
    """input is 3-D (unbatched) or 4-D; 3-D needs a 3-D grad_output too."""
    x = _of_rank(XS, ndim) if ndim != 3 else np.ones(XS[1:], np.float32)
    if op == "conv2d":
        if ndim == 3:
            assert convx.conv2d(x, Wt()).shape == YS[1:]
            return
        expect(ValueError, names("input"), lambda: convx.conv2d(x, Wt()))
    else:
        expect(ValueError, names(("input", "grad_output")), lambda: convx.conv2d_weight(x, WS, GY()))


@pytest.mark.parametrize("ndim", RANKS + [3], ids=lambda n: f"{n}d")
@pytest.mark.parametrize("op", ["conv2d", "conv2d_input"])
def test_weight_rank(op, ndim):
    w = _of_rank(WS, ndim)
    if op == "conv2d":
        expect(ValueError, names("weight"), lambda: convx.conv2d(X(), w))
    else:
        expect(ValueError, names("weight"), lambda: convx.conv2d_input(XS, w, GY()))


@pytest.mark.parametrize("ndim", [0, 2, 3, 4], ids=lambda n: f"{n}d")
def test_bias_rank(ndim):
    expect(ValueError, names("bias"), lambda: convx.conv2d(X(), Wt(), _of_rank((6,), ndim)))


@pytest.mark.parametrize("ndim", RANKS + [3], ids=lambda n: f"{n}d")
@pytest.mark.parametrize("op", ["conv2d_weight", "conv2d_input"])
def test_grad_output_rank(op, ndim):
    gy = _of_rank(YS, ndim) if ndim != 3 else np.ones(YS[1:], np.float32)
    if op == "conv2d_weight":
        expect(ValueError, names("grad_output"), lambda: convx.conv2d_weight(X(), WS, gy))
    else:
        expect(ValueError, names(("grad_output", "input_size")),
               lambda: convx.conv2d_input(XS, Wt(), gy))


def test_unbatched_rank_pairs():
    """3-D input with 4-D grad_output and the other way round, and 3-D input_size."""
    expect(ValueError, names("grad_output"), lambda: convx.conv2d_weight(X(XS[1:]), WS, GY()))
    expect(ValueError, names("grad_output"), lambda: convx.conv2d_weight(X(), WS, GY(YS[1:])))
    expect(ValueError, names(("grad_output", "input_size")),
           lambda: convx.conv2d_input(XS[1:], Wt(), GY()))
    expect(ValueError, names(("grad_output", "input_size")),
           lambda: convx.conv2d_input(XS, Wt(), GY(YS[1:])))
    assert convx.conv2d_weight(X(XS[1:]), WS, GY(YS[1:])).shape == WS
    assert convx.conv2d_input(XS[1:], Wt(), GY(YS[1:])).shape == XS[1:]


# ---------------------------------------------------------------------------
# Shape mismatches: one dimension of one operand off by one (or more)
# ---------------------------------------------------------------------------

def _bump(shape, axis, delta):
    s = list(shape)
    s[axis] += delta
    return tuple(s)


# (op, operand perturbed, axis, delta, arguments that may be named)
MISMATCHES = []
for _axis, _dim in enumerate("NKPQ"):
    for _d in (-1, 1):
        for _op in ("conv2d_weight", "conv2d_input"):
            MISMATCHES.append((_op, "grad_output", _axis, _d, ("grad_output",)))
for _axis, _dim in enumerate("NCHW"):
    for _d in (-1, 1):
        # a different input changes the expected grad_output (N, H, W) or the channel match (C)
        MISMATCHES.append(("conv2d_weight", "input", _axis, _d, ("input", "weight_size", "grad_output")))
        MISMATCHES.append(("conv2d_input", "input_size", _axis, _d, ("input_size", "weight", "grad_output")))
for _axis, _dim in enumerate("KCRS"):
    for _d in (-1, 1):
        MISMATCHES.append(("conv2d", "weight", _axis, _d, None))   # C mismatches; others are legal
        MISMATCHES.append(("conv2d_weight", "weight_size", _axis, _d, ("weight_size", "grad_output")))
        MISMATCHES.append(("conv2d_input", "weight", _axis, _d, ("weight", "grad_output")))
for _d in (-1, 1, -6):
    MISMATCHES.append(("conv2d", "bias", 0, _d, ("bias",)))


def _mismatch_id(case):
    op, what, axis, delta, _ = case
    return f"{op}-{what}-axis{axis}-{delta:+d}"


@pytest.mark.parametrize("case", MISMATCHES, ids=[_mismatch_id(c) for c in MISMATCHES])
def test_shape_mismatch(case):
    """Operands that disagree by one in any dimension: ValueError naming one
    of the disagreeing arguments; never a read past the smaller buffer."""
    op, what, axis, delta, named = case
    xs, ws, ys, k = XS, WS, YS, 6
    if what == "input" or what == "input_size":
        xs = _bump(XS, axis, delta)
    elif what in ("weight", "weight_size"):
        ws = _bump(WS, axis, delta)
    elif what == "grad_output":
        ys = _bump(YS, axis, delta)
    else:
        k = 6 + delta
    if op == "conv2d":
        if what == "weight" and axis != 1:
            # K, R, S of the weight define the output: a different but legal problem
            y = convx.conv2d(X(xs), Wt(ws))
            assert y.shape[1] == ws[0]
            return
        fn = lambda: convx.conv2d(X(xs), Wt(ws), B(k))   # noqa: E731
        named = named or ("weight",)
    elif op == "conv2d_weight":
        fn = lambda: convx.conv2d_weight(X(xs), ws, GY(ys))   # noqa: E731
    else:
        fn = lambda: convx.conv2d_input(xs, Wt(ws), GY(ys))   # noqa: E731
    expect(ValueError, names(named), fn)


@pytest.mark.parametrize("groups, k, cg, named", [
    pytest.param(2, 6, 4, "weight", id="weight_has_C_not_C_over_groups"),
    pytest.param(3, 6, 1, "groups", id="groups_not_dividing_C"),
    pytest.param(4, 6, 1, "groups", id="groups_not_dividing_K"),
    pytest.param(8, 8, 1, "groups", id="groups_above_C"),
    pytest.param(4, 5, 1, "groups", id="depthwise_K_not_multiple"),
])
@pytest.mark.parametrize("op", OPS)
def test_groups_mismatch(op, groups, k, cg, named):
    w = Wt((k, cg, 3, 3))
    gy = GY((2, k, 4, 4))
    fns = {"conv2d": lambda: convx.conv2d(X(), w, groups=groups),
           "conv2d_weight": lambda: convx.conv2d_weight(X(), w.shape, gy, groups=groups),
           "conv2d_input": lambda: convx.conv2d_input(XS, w, gy, groups=groups)}
    alt = {"weight": ("weight", "weight_size"), "groups": ("groups",)}[named]
    expect(ValueError, names(alt), fns[op])


@pytest.mark.parametrize("shape, dtype", [
    pytest.param((2, 6, 4, 5), np.float32, id="Q+1"), pytest.param((2, 6, 4), np.float32, id="3d"),
    pytest.param((2, 6, 4, 4), np.float64, id="float64"),
    pytest.param((2, 6, 4, 4), np.int32, id="int32"), pytest.param((0, 6, 4, 4), np.float32, id="N0"),
])
def test_out_mismatch(shape, dtype):
    expect(ValueError, names("out"), lambda: convx.conv2d(X(), Wt(), out=np.zeros(shape, dtype)))


# ---------------------------------------------------------------------------
# Zero-sized dimensions: results equal the reference, every element written
# ---------------------------------------------------------------------------

# (id, input shape, weight shape, geometry)
EMPTY = [
    ("N0", (0, 4, 6, 6), (6, 4, 3, 3), {}),
    ("N0_pad", (0, 4, 6, 6), (6, 4, 3, 3), dict(padding=1)),
    ("C0_pad1_all_bias", (2, 0, 4, 5), (3, 0, 3, 3), dict(padding=1)),
    ("C0_valid", (2, 0, 4, 5), (3, 0, 2, 2), {}),
    ("C0_groups3", (1, 0, 5, 5), (6, 0, 3, 3), dict(padding=1, groups=3)),
    ("C0_1x1", (2, 0, 4, 4), (5, 0, 1, 1), {}),
    ("K0", (2, 4, 6, 6), (0, 4, 3, 3), {}),
    ("K0_groups2", (2, 4, 6, 6), (0, 2, 3, 3), dict(groups=2)),
    ("H0_same", (2, 4, 0, 6), (6, 4, 3, 3), dict(padding="same")),
    ("W0_same", (2, 4, 6, 0), (6, 4, 3, 3), dict(padding="same")),
    ("H0W0_same", (1, 3, 0, 0), (2, 3, 1, 1), dict(padding="same")),
    ("H0_pad_fits_kernel", (2, 3, 0, 5), (4, 3, 3, 3), dict(padding=2)),
    ("H0W0_pad_fits_kernel", (1, 2, 0, 0), (3, 2, 2, 2), dict(padding=1)),
    ("W0_pad_stride2", (1, 2, 5, 0), (3, 2, 3, 3), dict(padding=2, stride=2)),
    ("N0_C0_K0", (0, 0, 3, 3), (0, 0, 3, 3), {}),
    ("N0_H0_same", (0, 2, 0, 4), (3, 2, 3, 3), dict(padding="same")),
    ("kernel_only_over_padding", (1, 2, 1, 1), (3, 2, 3, 3), dict(padding=2, dilation=2)),
]


def _empty_arrays(x_shape, w_shape, geometry, dtype):
    from reference import output_hw
    rng = np.random.default_rng(1)
    P, Q = output_hw(x_shape[2:], w_shape[2:], geometry.get("stride", 1),
                     geometry.get("padding", 0), geometry.get("dilation", 1))
    x = rng.integers(-3, 4, x_shape).astype(dtype)
    w = rng.integers(-3, 4, w_shape).astype(dtype)
    b = rng.integers(1, 5, w_shape[0]).astype(dtype)       # non-zero: "all bias" shows
    gy = rng.integers(-3, 4, (x_shape[0], w_shape[0], P, Q)).astype(dtype)
    return x, w, b, gy


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "auto"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", EMPTY, ids=[c[0] for c in EMPTY])
def test_zero_sized_dimensions(case, op, algorithm):
    """Empty batches, channels, images and filter banks: the reference's
    result (often all bias, or all zero), with every element written."""
    _, x_shape, w_shape, geometry = case
    for dtype in (np.float32, np.float64):
        x, w, b, gy = _empty_arrays(x_shape, w_shape, geometry, dtype)
        with poisoned():
            got = run_op(op, x, w, b, gy, algorithm=algorithm, threads=2, **geometry)
        ref = reference(op, x, w, b, gy, **geometry)
        assert got.dtype == dtype and got.shape == ref.shape
        assert np.array_equal(got, ref.astype(dtype)), f"{op} {case[0]} {dtype.__name__}"


def test_zero_channels_with_padding_is_all_bias():
    """C = 0 with padding: every output pixel is exactly its channel's bias."""
    b = np.array([1.5, -2.0, 7.0], np.float32)
    for algorithm in ("direct", "im2col"):
        with poisoned():
            y = convx.conv2d(np.ones((2, 0, 4, 5), np.float32), np.ones((3, 0, 3, 3), np.float32),
                             b, padding=1, algorithm=algorithm)
        assert y.shape == (2, 3, 4, 5)
        assert np.array_equal(y, np.broadcast_to(b[None, :, None, None], y.shape))
        with poisoned():     # unbatched (C, H, W) input; W = 3 = K, so a misaligned bias shows
            y = convx.conv2d(np.ones((0, 4, 3), np.float32), np.ones((3, 0, 3, 3), np.float32),
                             b, padding=1, algorithm=algorithm)
        assert np.array_equal(y, np.broadcast_to(b[:, None, None], (3, 4, 3)))


@pytest.mark.parametrize("rs", [(0, 3), (3, 0), (0, 0)], ids=["R0", "S0", "R0S0"])
@pytest.mark.parametrize("op", OPS)
def test_zero_sized_kernel(op, rs):
    """R == 0 or S == 0 has no output size: ValueError naming the weight, even with padding."""
    w = np.ones((6, 4) + rs, np.float32)
    fns = {"conv2d": lambda: convx.conv2d(X(), w, padding=1),
           "conv2d_weight": lambda: convx.conv2d_weight(X(), w.shape, GY(), padding=1),
           "conv2d_input": lambda: convx.conv2d_input(XS, w, GY(), padding=1)}
    expect(ValueError, names(("weight", "weight_size")), fns[op])


# ---------------------------------------------------------------------------
# Kernels larger than the padded input
# ---------------------------------------------------------------------------

TOO_BIG = [
    ("R7_on_H6", (6, 4, 7, 3), {}),
    ("S7_on_W6", (6, 4, 3, 7), {}),
    ("dilated_3x3_d3", (6, 4, 3, 3), dict(dilation=3)),
    ("dilated_w_only", (6, 4, 3, 3), dict(dilation=(1, 3))),
    ("pad_one_side_short", (6, 4, 8, 3), dict(padding=((1, 0), (0, 0)))),
    ("huge_dilation", (6, 4, 2, 2), dict(dilation=2**40)),
    ("huge_kernel_dilation_2_59", (6, 4, 3, 3), dict(dilation=2**59)),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", TOO_BIG, ids=[c[0] for c in TOO_BIG])
def test_kernel_larger_than_padded_input(case, op):
    _, ws, geometry = case
    w = Wt(ws)
    fns = {"conv2d": lambda: convx.conv2d(X(), w, **geometry),
           "conv2d_weight": lambda: convx.conv2d_weight(X(), ws, GY(), **geometry),
           "conv2d_input": lambda: convx.conv2d_input(XS, w, GY(), **geometry)}
    with pytest.raises(ValueError) as info:
        fns[op]()
    # conv2d_weight / conv2d_input learn the output size from the geometry first
    assert re.search(names(("weight", "weight_size", "padding", "dilation", "grad_output")),
                     str(info.value))


@pytest.mark.parametrize("op", OPS)
def test_kernel_exactly_fits_padded_input(op):
    """R = H + top + bottom: a 1-row output, checked against the reference."""
    x, w, b, gy = _empty_arrays((1, 2, 3, 4), (2, 2, 5, 6), dict(padding=1), np.float64)
    with poisoned():
        got = run_op(op, x, w, b, gy, padding=1)
    assert np.array_equal(got, reference(op, x, w, b, gy, padding=1))


# ---------------------------------------------------------------------------
# Huge strides, paddings and dilations with small outputs
# ---------------------------------------------------------------------------

HUGE_OK = [
    ("stride_2_59", (6, 4, 3, 3), dict(stride=2**59)),
    ("stride_pair_huge", (6, 4, 3, 3), dict(stride=(2**40, 2**58))),
    ("dilation_2_59_kernel1", (6, 4, 1, 1), dict(dilation=2**59)),
    ("taps_all_in_huge_padding", (6, 4, 2, 2), dict(padding=2**57, dilation=2**58, stride=2**58)),
    ("padding_2_40_stride_2_40", (6, 4, 3, 3), dict(padding=2**40, stride=2**40)),
    ("dilation_2_33_padding_2_33", (6, 4, 2, 2), dict(padding=(2**33, 0), dilation=(2**34, 1))),
]


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", HUGE_OK, ids=[c[0] for c in HUGE_OK])
def test_huge_offsets_small_output(case, op, algorithm):
    """Offsets far beyond 2**31 (64-bit index arithmetic) on a small problem:
    the reference's result (taps that land in the padding contribute 0)."""
    _, ws, geometry = case
    from reference import output_hw
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, XS).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    b = rng.integers(1, 4, ws[0]).astype(np.float64)
    P, Q = output_hw(XS[2:], ws[2:], geometry.get("stride", 1), geometry.get("padding", 0),
                     geometry.get("dilation", 1))
    assert P * Q <= 64, (P, Q)
    gy = rng.integers(-3, 4, (XS[0], ws[0], P, Q)).astype(np.float64)
    with poisoned():
        got = run_op(op, x, w, b, gy, algorithm=algorithm, **geometry)
    assert np.array_equal(got, _brute_force(op, x, w, b, gy, P, Q, **geometry))


def _brute_force(op, x, w, b, gy, P, Q, stride=1, padding=0, dilation=1):
    """The convolution sum evaluated tap by tap with Python integers for the
    coordinates (the reference's np.pad cannot hold a 2**40-pixel padding)."""
    from reference import pair, resolve_padding
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    (top, _), (left, _) = resolve_padding(padding, (H, W), (R, S), stride, dilation)
    y, gw, gx = np.zeros((N, K, P, Q)), np.zeros(w.shape), np.zeros(x.shape)
    for n in range(N):
        for k in range(K):
            for p in range(P):
                for q in range(Q):
                    y[n, k, p, q] = b[k]
                    for c in range(Cg):
                        for r in range(R):
                            h = p * sh + r * dh - top
                            for s_ in range(S):
                                v = q * sw + s_ * dw - left
                                if 0 <= h < H and 0 <= v < W:
                                    y[n, k, p, q] += w[k, c, r, s_] * x[n, c, h, v]
                                    gw[k, c, r, s_] += gy[n, k, p, q] * x[n, c, h, v]
                                    gx[n, c, h, v] += gy[n, k, p, q] * w[k, c, r, s_]
    return {"conv2d": y, "conv2d_weight": gw, "conv2d_input": gx}[op]


def test_huge_padding_every_tap_in_padding_is_bias():
    """padding 2**57 with dilation and stride 2**58: every tap of every output
    pixel falls in the padding, so the output is exactly the bias."""
    b = np.array([1.0, 2.0], np.float32)
    for algorithm in ("direct", "im2col"):
        with poisoned():
            y = convx.conv2d(np.ones((1, 3, 4, 4), np.float32), np.ones((2, 3, 2, 2), np.float32),
                             b, padding=2**57, dilation=2**58, stride=2**58, algorithm=algorithm)
        assert y.shape == (1, 2, 1, 1)
        assert np.array_equal(y, np.broadcast_to(b[None, :, None, None], y.shape))


@pytest.mark.parametrize("op", OPS)
def test_huge_padding_output_is_memory_error(op):
    """padding 2**59 - 1: the output would have ~2**59 rows: MemoryError
    before anything is allocated, never a wrapped size."""
    big = ((2**59 - 1, 0), (0, 0))
    fns = {"conv2d": lambda: convx.conv2d(X(), Wt(), padding=big),
           "conv2d_weight": lambda: convx.conv2d_weight(X(), WS, GY(), padding=big),
           "conv2d_input": lambda: convx.conv2d_input(XS, Wt(), GY(), padding=big)}
    with pytest.raises((MemoryError, ValueError)) as info:
        fns[op]()
    if info.type is ValueError:   # grad_output's shape cannot match the huge output
        assert re.search(names("grad_output"), str(info.value))


# ---------------------------------------------------------------------------
# Array contents that are not numbers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, exc", [
    pytest.param(None, TypeError, id="None"),
    pytest.param("abc", TypeError, id="str"),
    pytest.param([[[[1, 2], [3]]]], ValueError, id="ragged"),
    pytest.param(np.zeros(XS, "V4"), TypeError, id="void"),
    pytest.param(np.zeros(XS, [("a", "f4")]), TypeError, id="structured"),
    pytest.param(np.zeros(XS, np.complex64), TypeError, id="complex"),
    pytest.param(np.zeros(XS, "datetime64[s]"), TypeError, id="datetime"),
    pytest.param(np.zeros(XS, np.longdouble), TypeError, id="longdouble")
    if np.dtype(np.longdouble).itemsize > 8 else pytest.param(None, TypeError, id="longdouble"),
])
@pytest.mark.parametrize("arg", ["input", "weight", "bias", "grad_output"])
def test_array_argument_not_numbers(arg, value, exc):
    if arg == "bias" and value is None:     # bias=None means no bias
        assert np.array_equal(convx.conv2d(X(), Wt(), None), convx.conv2d(X(), Wt()))
        return
    fns = {"input": lambda: convx.conv2d(value, Wt()),
           "weight": lambda: convx.conv2d(X(), value),
           "bias": lambda: convx.conv2d(X(), Wt(), value),
           "grad_output": lambda: convx.conv2d_weight(X(), WS, value)}
    expect(exc, names(arg), fns[arg])


@pytest.mark.parametrize("value", ["winograd", "", "DIRECT", 0, None, b"direct", True],
                         ids=["unknown", "empty", "upper", "int", "None", "bytes", "bool"])
@pytest.mark.parametrize("op", OPS)
def test_bad_algorithm(op, value):
    exc = ValueError if isinstance(value, str) else TypeError
    expect(exc, names("algorithm"), lambda: call(op, algorithm=value))


@pytest.mark.parametrize("op", OPS)
def test_algorithm_str_subclass(op):
    """A str subclass (numpy.str_) is a string: accepted."""
    ref = call(op, algorithm="direct")
    assert np.array_equal(call(op, algorithm=np.str_("direct")), ref)
