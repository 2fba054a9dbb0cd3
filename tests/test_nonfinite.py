"""NaN, inf, subnormal and near-overflow values: propagated as the reference does.

The rule (README, "Limits and safety"): convx computes what the float64
reference in reference.py computes, the convolution of the explicitly
zero-padded input in IEEE arithmetic, rounded once to the result's dtype.

* NaN and inf propagate through every product and sum; a tap over the
  padding contributes ``0 * w`` (forward) or ``dy * 0`` (weight gradient),
  which is NaN when ``w`` (``dy``) is not finite. The direct loops skip
  padding taps and im2col multiplies the zeros; both give the reference's
  NaNs. Which elements are NaN, +inf and -inf is the same for both
  algorithms, every SIMD path and both dtypes.
* Subnormal inputs are kept, never flushed to zero (no -ffast-math).
* Overflow: a sum whose terms have one sign overflows to +-inf exactly when
  the reference's rounded result does, in any summation order. (A sum of
  near-overflow terms of both signs depends on the order of summation, as
  for any floating-point sum: not specified.)

Data are small integers around the special values, so every finite result
is exact and compared bit for bit. Each case runs on every SIMD path of this
CPU (selected in-process) and both algorithms.
"""

import numpy as np
import pytest

from hostile import OPS, SUBRUN, SUPPORTED, on_path, poisoned, reference, run_op
from reference import output_hw

pytestmark = pytest.mark.skipif(SUBRUN, reason="runs every SIMD path in-process")

# (id, input shape, weight shape, geometry)
GEOMETRIES = [
    ("pad1_3x3", (2, 3, 6, 7), (4, 3, 3, 3), dict(padding=1)),
    ("no_padding", (2, 3, 6, 7), (4, 3, 3, 3), {}),
    ("asym_pad_stride2", (1, 2, 7, 8), (3, 2, 2, 3), dict(stride=2, padding=((1, 0), (0, 2)))),
    ("bottom_pad_never_read", (1, 2, 6, 6), (2, 2, 2, 2), dict(stride=3, padding=((0, 1), (0, 1)))),
    ("same_stride2_dilation2", (1, 2, 8, 9), (3, 2, 3, 2), dict(stride=2, dilation=2, padding="same")),
    ("groups2_pad2", (2, 4, 5, 5), (6, 2, 3, 3), dict(groups=2, padding=2)),
    ("depthwise_pad1", (1, 3, 5, 6), (3, 1, 3, 3), dict(groups=3, padding=1)),
    ("pointwise", (2, 5, 4, 4), (7, 5, 1, 1), {}),
    ("pointwise_pad1", (1, 3, 3, 4), (4, 3, 1, 1), dict(padding=1)),
    ("kernel_over_padding_only", (1, 2, 1, 1), (3, 2, 3, 3), dict(padding=2, dilation=2)),
    ("wide_K_im2col_tiles", (1, 16, 9, 9), (24, 16, 3, 3), dict(padding=1)),
]

OPERANDS = {"conv2d": ("input", "weight", "bias"),
            "conv2d_weight": ("input", "grad_output"),
            "conv2d_input": ("weight", "grad_output")}

CASES = [(g, op, operand) for g in GEOMETRIES for op in OPS for operand in OPERANDS[op]]


def _arrays(case, dtype, seed):
    _, xs, ws, geometry = case
    rng = np.random.default_rng(seed)
    P, Q = output_hw(xs[2:], ws[2:], geometry.get("stride", 1), geometry.get("padding", 0),
                     geometry.get("dilation", 1))
    x = rng.integers(-3, 4, xs).astype(dtype)
    w = rng.integers(-3, 4, ws).astype(dtype)
    b = rng.integers(-3, 4, ws[0]).astype(dtype)
    gy = rng.integers(-3, 4, (xs[0], ws[0], P, Q)).astype(dtype)
    return {"input": x, "weight": w, "bias": b, "grad_output": gy}


def _sprinkle(a, rng, values, count):
    """Put `count` of `values` at random places of a (in place)."""
    flat = a.reshape(-1)
    if flat.size:
        idx = rng.choice(flat.size, size=min(count, flat.size), replace=False)
        flat[idx] = rng.choice(values, size=idx.size)


def _same_specials(got, ref, dtype, where):
    """Same NaN / +inf / -inf positions, finite values equal bit for bit."""
    with np.errstate(over="ignore", invalid="ignore"):
        ref = ref.astype(dtype)
    assert got.dtype == dtype and got.shape == ref.shape
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = test(got) != test(ref)
        assert not bad.any(), (f"{where}: {int(bad.sum())} elements differ in {name}; first at "
                               f"{tuple(np.argwhere(bad)[0])}: got {got[bad][0]}, "
                               f"reference {ref[bad][0]}")
    fin = np.isfinite(ref)
    assert np.array_equal(got[fin], ref[fin]), f"{where}: finite values differ"


def _run_everywhere(op, arrays, geometry, dtype, label):
    x, w, b, gy = (arrays[k] for k in ("input", "weight", "bias", "grad_output"))
    with np.errstate(invalid="ignore", over="ignore"):
        ref = reference(op, x, w, b, gy, **geometry)
    for path in SUPPORTED:
        with on_path(path):
            for algorithm in ("direct", "im2col"):
                with poisoned():
                    got = run_op(op, x, w, b, gy, algorithm=algorithm, threads=2, **geometry)
                _same_specials(got, ref, dtype, f"{label} {path}/{algorithm}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[f"{g[0]}-{op}-{operand}" for g, op, operand in CASES])
def test_nan_and_inf_propagate_as_the_reference(case, dtype):
    """NaN, +inf and -inf in one operand: the reference's NaN/inf pattern on
    every path and algorithm (padding taps included)."""
    geo, op, operand = case
    rng = np.random.default_rng(hash((geo[0], op, operand)) % 2**32)
    for trial, values in enumerate(([np.nan], [np.inf], [-np.inf], [np.inf, -np.inf, np.nan])):
        arrays = _arrays(geo, dtype, trial)
        _sprinkle(arrays[operand], rng, values, count=2 + trial)
        _run_everywhere(op, arrays, geo[3], dtype, f"{operand}={values}")


@pytest.mark.parametrize("op", OPS)
def test_inf_weight_on_padding_is_nan_everywhere_it_touches(op):
    """The worked example of the rule: one inf weight tap at (0, 0) of a 3x3
    kernel with padding 1. The forward output's first row and column read
    that tap over the padding: NaN there (0 * inf); inf elsewhere."""
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    w[0, 0, 0, 0] = np.inf
    gy = np.ones((1, 1, 4, 4), np.float32)
    if op == "conv2d_weight":
        gy[0, 0, 0, 0] = np.inf      # the inf is in grad_output for the weight gradient
    for path in SUPPORTED:
        with on_path(path):
            for algorithm in ("direct", "im2col"):
                got = run_op(op, x, w, None, gy, algorithm=algorithm, padding=1)
                if op == "conv2d":
                    expected = np.full((4, 4), np.inf, np.float32)
                    expected[0, :] = expected[:, 0] = np.nan
                    np.testing.assert_array_equal(got[0, 0], expected)
                elif op == "conv2d_weight":
                    # taps in row 0 or column 0 of the kernel read padding at output (0, 0)
                    expected = np.full((3, 3), np.inf, np.float32)
                    expected[0, :] = expected[:, 0] = np.nan
                    np.testing.assert_array_equal(got[0, 0], expected)
                else:
                    # the input gradient multiplies no padding: inf exactly where the
                    # inf tap (0, 0) carries an output back, input pixels [0, 3) x [0, 3)
                    reached = np.zeros((4, 4), bool)
                    reached[:3, :3] = True
                    np.testing.assert_array_equal(np.isposinf(got[0, 0]), reached)
                    assert np.isfinite(got[0, 0][~reached]).all()


def _scaled(dtype):
    """(tiny, big): the smallest subnormal and 2**(max_exp - 2) of dtype."""
    fi = np.finfo(dtype)
    return dtype(fi.smallest_subnormal), dtype(2.0 ** (fi.maxexp - 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("geo", GEOMETRIES[:6], ids=[g[0] for g in GEOMETRIES[:6]])
def test_subnormals_are_kept(geo, op, dtype):
    """One operand holds small multiples of the smallest subnormal, the other
    small integers: every product and sum is an exact subnormal, kept (never
    flushed to zero) and equal to the reference on every path."""
    tiny, _ = _scaled(dtype)
    arrays = _arrays(geo, dtype, 11)
    scaled = {"conv2d": "input", "conv2d_weight": "input", "conv2d_input": "grad_output"}[op]
    arrays[scaled] = arrays[scaled] * tiny
    arrays["bias"] = arrays["bias"] * tiny
    x, w, b, gy = (arrays[k] for k in ("input", "weight", "bias", "grad_output"))
    ref = reference(op, x.astype(np.float64), w, b.astype(np.float64), gy.astype(np.float64),
                    **geo[3])
    _run_everywhere(op, arrays, geo[3], dtype, "subnormal")
    got = run_op(op, x, w, b, gy, **geo[3])
    if np.any(ref != 0):
        assert np.any((got != 0) & (np.abs(got) < np.finfo(dtype).smallest_normal)), \
            "subnormal results were flushed to zero"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("geo", GEOMETRIES[:6], ids=[g[0] for g in GEOMETRIES[:6]])
def test_same_sign_overflow_matches_the_reference(geo, op, dtype):
    """Terms of 2**(max_exp-2) (a quarter of the largest power of two) times
    positive integers: a sum of four or more overflows to +inf, fewer stay
    exact, whatever the order: the same elements are inf on every path."""
    _, big = _scaled(dtype)
    arrays = _arrays(geo, dtype, 12)
    rng = np.random.default_rng(12)
    for key in arrays:
        arrays[key] = rng.integers(0, 2, arrays[key].shape).astype(dtype)
    scaled = {"conv2d": "input", "conv2d_weight": "input", "conv2d_input": "grad_output"}[op]
    arrays[scaled] = arrays[scaled] * big
    arrays["bias"] = arrays["bias"] * big
    _run_everywhere(op, arrays, geo[3], dtype, "overflow")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_largest_finite_value_survives_a_single_product(dtype):
    """x = the largest finite value under a 1x1 kernel of +-1 and +-2: the
    result is exactly +-max (one product) or +-inf (it overflows)."""
    fmax = np.finfo(dtype).max
    x = np.full((1, 1, 2, 2), fmax, dtype)
    w = np.array([1, -1, 2, -2], dtype).reshape(4, 1, 1, 1)
    for path in SUPPORTED:
        with on_path(path):
            for algorithm in ("direct", "im2col"):
                with np.errstate(over="ignore"):
                    y = run_op("conv2d", x, w, None, None, algorithm=algorithm)
                assert np.array_equal(y[0, :, 0, 0], np.array([fmax, -fmax, np.inf, -np.inf], dtype))
