"""Specification of convx.conv2d_weight and convx.conv2d_input.

With L(x, w) = sum(conv2d(x, w) * G):

    conv2d_weight(x, w.shape, G) == dL/dw      conv2d_input(x.shape, w, G) == dL/dx

checked four ways:

* central finite differences of conv2d itself on tiny float64 problems (this
  ties the gradients to convx's own forward pass, not to the reference);
* the adjoint identity <conv2d(x, w), G> = <w, dL/dw> = <x, dL/dx> over the
  whole named sweep, for every algorithm;
* the naive reference, both dtypes, every algorithm, over the named sweep,
  with a tolerance that grows with the reduction length;
* integer-valued data: every algorithm equals the reference exactly.

Plus the input_size ambiguity of strided convolutions, empty batches and the
dtype promotion policy of the two gradient functions.
"""

import functools

import numpy as np
import pytest

import convx
from reference import (
    ALGORITHMS, CASES, DTYPES, SMALL_CASES, Case, assert_matches_reference,
    case_arrays, reduction_length, ref_conv2d, ref_conv2d_input,
    ref_conv2d_weight,
)

# ---------------------------------------------------------------------------
# Finite differences on tiny float64 problems
# ---------------------------------------------------------------------------

TINY = [
    Case("tiny_3x3_pad1", 1, 2, 4, 4, 2, 3, 3, padding=1),
    Case("tiny_nonsquare_stride_2x1", 2, 2, 5, 4, 3, 2, 3, stride=(2, 1)),
    Case("tiny_asym_pad_dilation", 1, 2, 5, 5, 2, 2, 2, dilation=(2, 1),
         padding=((1, 0), (0, 2))),
    Case("tiny_groups2_same_s2", 1, 4, 5, 4, 2, 3, 2, groups=2, stride=2, padding="same"),
    Case("tiny_depthwise_mult2", 1, 2, 4, 3, 4, 2, 2, groups=2, padding=(1, 0)),
    Case("tiny_stride3_gt_kernel", 1, 1, 7, 5, 2, 2, 1, stride=3),
    Case("tiny_unbatched", 1, 2, 3, 4, 2, 2, 2, padding=1, unbatched=True),
]


def _loss(x, w, G, case, algorithm):
    return float(np.sum(convx.conv2d(x, w, **case.geometry, algorithm=algorithm) * G))


def _central_difference(f, a, h=1e-3):
    """Central differences of scalar f with respect to every entry of a.

    The loss is linear in ``a``, so the difference quotient is exact up to
    rounding for any step; h only scales the rounding error (~eps*|L|/h).
    """
    grad = np.empty_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        up = f()
        a[i] = old - h
        down = f()
        a[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", TINY, ids=lambda c: c.id)
def test_weight_gradient_matches_finite_differences(case, algorithm):
    """conv2d_weight is the derivative of sum(conv2d(x, w) * G) with respect to w."""
    x, w, _, G = case_arrays(case, np.float64)
    w = w.copy()
    numeric = _central_difference(lambda: _loss(x, w, G, case, algorithm), w)
    gw = convx.conv2d_weight(x, w.shape, G, **case.geometry, algorithm=algorithm)
    assert gw.shape == w.shape and gw.dtype == np.float64
    np.testing.assert_allclose(gw, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", TINY, ids=lambda c: c.id)
def test_input_gradient_matches_finite_differences(case, algorithm):
    """conv2d_input is the derivative of sum(conv2d(x, w) * G) with respect to x."""
    x, w, _, G = case_arrays(case, np.float64)
    x = x.copy()
    numeric = _central_difference(lambda: _loss(x, w, G, case, algorithm), x)
    gx = convx.conv2d_input(x.shape, w, G, **case.geometry, algorithm=algorithm)
    assert gx.shape == x.shape and gx.dtype == np.float64
    np.testing.assert_allclose(gx, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: c.id)
def test_reference_gradients_are_adjoint_to_reference_forward(case):
    """Self-check of tests/reference.py: its two gradients are the adjoints of
    its forward pass (so comparing convx against them is meaningful)."""
    x, w, _, g = case_arrays(case, np.float64, seed_extra="reference")
    geo = case.geometry
    lhs = np.vdot(ref_conv2d(x, w, **geo), g)
    scale = np.vdot(ref_conv2d(np.abs(x), np.abs(w), **geo), np.abs(g)) + 1e-300
    assert abs(lhs - np.vdot(w, ref_conv2d_weight(x, w.shape, g, **geo))) <= 1e-12 * scale
    assert abs(lhs - np.vdot(x, ref_conv2d_input(x.shape, w, g, **geo))) <= 1e-12 * scale


# ---------------------------------------------------------------------------
# Adjoint identity over the whole sweep
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_adjoint_identity(case, algorithm):
    """<conv2d(x, w), g> == <w, conv2d_weight(x, w.shape, g)> == <x, conv2d_input(x.shape, w, g)>."""
    x, w, _, g = case_arrays(case, np.float64, seed_extra="adjoint")
    geo = case.geometry
    y = convx.conv2d(x, w, **geo, algorithm=algorithm)
    gw = convx.conv2d_weight(x, w.shape, g, **geo, algorithm=algorithm)
    gx = convx.conv2d_input(x.shape, w, g, **geo, algorithm=algorithm)
    assert gw.shape == w.shape and gx.shape == x.shape
    lhs = np.vdot(y, g)
    # Scale of the sums: the same inner product on absolute values.
    scale = np.vdot(ref_conv2d(np.abs(x), np.abs(w), **geo), np.abs(g)) + 1e-300
    tol = 1e-12 * scale
    assert abs(lhs - np.vdot(w, gw)) <= tol, (lhs, np.vdot(w, gw), tol)
    assert abs(lhs - np.vdot(x, gx)) <= tol, (lhs, np.vdot(x, gx), tol)


# ---------------------------------------------------------------------------
# Against the reference over the named sweep
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _reference_gradients(case_id, dtype):
    """Reference (float64) on exactly the values the test passes in ``dtype``."""
    case = next(c for c in CASES if c.id == case_id)
    x, w, _, gy = case_arrays(case, dtype)
    geo = case.geometry
    gw = ref_conv2d_weight(x, w.shape, gy, **geo)
    gw_mag = ref_conv2d_weight(np.abs(x), w.shape, np.abs(gy), **geo)
    gx = ref_conv2d_input(x.shape, w, gy, **geo)
    gx_mag = ref_conv2d_input(x.shape, np.abs(w), np.abs(gy), **geo)
    return gw, gw_mag, gx, gx_mag


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_conv2d_weight_matches_reference(case, dtype, algorithm):
    """conv2d_weight equals the reference within a tolerance growing with N*P*Q."""
    x, w, _, gy = case_arrays(case, dtype)
    ref, mag, _, _ = _reference_gradients(case.id, dtype)
    gw = convx.conv2d_weight(x, w.shape, gy, **case.geometry, algorithm=algorithm)
    assert gw.flags.c_contiguous
    assert_matches_reference(gw, ref, mag,
                             reduction_length("weight", x.shape, w.shape, gy.shape, case.groups),
                             dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_conv2d_input_matches_reference(case, dtype, algorithm):
    """conv2d_input equals the reference within a tolerance growing with K/groups*R*S."""
    x, w, _, gy = case_arrays(case, dtype)
    _, _, ref, mag = _reference_gradients(case.id, dtype)
    gx = convx.conv2d_input(x.shape, w, gy, **case.geometry, algorithm=algorithm)
    assert gx.flags.c_contiguous
    assert_matches_reference(gx, ref, mag,
                             reduction_length("input", x.shape, w.shape, gy.shape, case.groups),
                             dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradients_integer_valued_are_exact(case, dtype):
    """On small-integer data direct, im2col, auto and the reference give
    bit-identical weight and input gradients."""
    x, w, _, gy = case_arrays(case, dtype, integer=True)
    geo = case.geometry
    ref_w = ref_conv2d_weight(x, w.shape, gy, **geo).astype(dtype)
    ref_x = ref_conv2d_input(x.shape, w, gy, **geo).astype(dtype)
    for algorithm in ALGORITHMS:
        gw = convx.conv2d_weight(x, w.shape, gy, **geo, algorithm=algorithm)
        gx = convx.conv2d_input(x.shape, w, gy, **geo, algorithm=algorithm)
        assert gw.dtype == dtype and gx.dtype == dtype
        assert np.array_equal(gw, ref_w), ("conv2d_weight", algorithm)
        assert np.array_equal(gx, ref_x), ("conv2d_input", algorithm)


# ---------------------------------------------------------------------------
# input_size ambiguity of strided convolutions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_input_gradient_untouched_rows_are_zero(dtype, algorithm, rng):
    """stride 2, R = S = 3: H = W = 7 and H = W = 8 both give 3x3 outputs.
    With input_size 8 the last row and column are read by no output, so their
    gradient is exactly 0; the rest equals the input_size 7 gradient."""
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    gy = rng.standard_normal((2, 3, 3, 3)).astype(dtype)
    gx8 = convx.conv2d_input((2, 2, 8, 8), w, gy, stride=2, algorithm=algorithm)
    gx7 = convx.conv2d_input((2, 2, 7, 7), w, gy, stride=2, algorithm=algorithm)
    assert gx8.shape == (2, 2, 8, 8) and gx7.shape == (2, 2, 7, 7)
    assert np.all(gx8[:, :, 7, :] == 0) and np.all(gx8[:, :, :, 7] == 0)
    assert not np.all(gx8[:, :, 6, :] == 0)
    ref = ref_conv2d_input((2, 2, 7, 7), w, gy, stride=2)
    mag = ref_conv2d_input((2, 2, 7, 7), np.abs(w), np.abs(gy), stride=2)
    assert_matches_reference(gx7, ref, mag, 27, dtype)
    assert_matches_reference(np.ascontiguousarray(gx8[:, :, :7, :7]), ref, mag, 27, dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_input_gradient_untouched_rows_with_padding(algorithm, rng):
    """Same ambiguity with asymmetric padding and a non-square stride:
    stride 3, R = 2, pad top 1: H = 8 and 9 both give P = 3 (padded rows 0..7
    read, so input row 7 on is never read); stride 2, S = 3: W = 7 and 8 both
    give Q = 3 (input column 7 is never read)."""
    w = rng.standard_normal((2, 3, 2, 3))
    pad = ((1, 0), (0, 0))
    gy = rng.standard_normal((1, 2, 3, 3))
    for H in (8, 9):
        for W in (7, 8):
            gx = convx.conv2d_input((1, 3, H, W), w, gy, stride=(3, 2), padding=pad,
                                    algorithm=algorithm)
            ref = ref_conv2d_input((1, 3, H, W), w, gy, stride=(3, 2), padding=pad)
            np.testing.assert_allclose(gx, ref, rtol=1e-12, atol=1e-12)
            assert np.all(gx[:, :, 7:, :] == 0) and np.all(gx[:, :, :, 7:] == 0)
            assert not np.all(gx[:, :, 6, :6] == 0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_weight_gradient_ignores_unread_rows(algorithm, rng):
    """conv2d_weight with an input whose last row/column no output reads
    (H = W = 8, stride 2, 3x3) equals the one on the 7x7 crop."""
    x = rng.standard_normal((2, 2, 8, 8))
    gy = rng.standard_normal((2, 3, 3, 3))
    gw8 = convx.conv2d_weight(x, (3, 2, 3, 3), gy, stride=2, algorithm=algorithm)
    gw7 = convx.conv2d_weight(x[:, :, :7, :7], (3, 2, 3, 3), gy, stride=2, algorithm=algorithm)
    np.testing.assert_allclose(gw8, gw7, rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------------------
# Empty batches and channels
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_empty_batch_gradients(dtype, algorithm):
    """N = 0: the weight gradient is all zeros of weight_size (a sum over
    nothing), the input gradient is an empty (0, C, H, W) array."""
    x = np.zeros((0, 4, 6, 5), dtype)
    w = np.ones((6, 2, 3, 3), dtype)
    gy = np.zeros((0, 6, 6, 5), dtype)
    gw = convx.conv2d_weight(x, (6, 2, 3, 3), gy, padding=1, groups=2, algorithm=algorithm)
    assert gw.shape == (6, 2, 3, 3) and gw.dtype == dtype
    assert np.array_equal(gw, np.zeros((6, 2, 3, 3), dtype))
    gx = convx.conv2d_input((0, 4, 6, 5), w, gy, padding=1, groups=2, algorithm=algorithm)
    assert gx.shape == (0, 4, 6, 5) and gx.dtype == dtype


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_channels_gradients(algorithm):
    """C = 0: the weight gradient has shape (K, 0, R, S), the input gradient (N, 0, H, W)."""
    x = np.zeros((2, 0, 4, 5))
    gy = np.ones((2, 3, 4, 5))
    gw = convx.conv2d_weight(x, (3, 0, 3, 3), gy, padding=1, algorithm=algorithm)
    assert gw.shape == (3, 0, 3, 3)
    gx = convx.conv2d_input((2, 0, 4, 5), np.zeros((3, 0, 3, 3)), gy, padding=1,
                            algorithm=algorithm)
    assert gx.shape == (2, 0, 4, 5)


# ---------------------------------------------------------------------------
# dtype policy of the gradients
# ---------------------------------------------------------------------------

F16, F32, F64 = np.float16, np.float32, np.float64

GRAD_PROMOTIONS = [
    pytest.param(F32, F32, F32, id="f32+f32->f32"),
    pytest.param(F32, F64, F64, id="f32+f64->f64"),
    pytest.param(F64, F32, F64, id="f64+f32->f64"),
    pytest.param(F16, F16, F32, id="f16+f16->f32"),
    pytest.param(F16, F32, F32, id="f16+f32->f32"),
    pytest.param(np.int64, np.int32, F64, id="i64+i32->f64"),
    pytest.param(np.bool_, np.int8, F64, id="bool+i8->f64"),
]


@pytest.mark.parametrize("adt, gdt, expected", GRAD_PROMOTIONS)
def test_gradient_dtype_promotion(adt, gdt, expected, rng):
    """conv2d_weight promotes input with grad_output, conv2d_input promotes
    weight with grad_output (integers -> float64, float16 -> float32); the
    other argument's dtype plays no part (weight_size/input_size are shapes)."""
    x = rng.integers(0, 2, (2, 3, 5, 6))
    w = rng.integers(0, 2, (4, 3, 3, 2))
    gy = rng.integers(0, 2, (2, 4, 5, 7))
    geo = dict(padding=1)
    gw = convx.conv2d_weight(x.astype(adt), w.shape, gy.astype(gdt), **geo)
    assert gw.dtype == expected
    np.testing.assert_array_equal(gw, ref_conv2d_weight(x, w.shape, gy, **geo).astype(expected))
    gx = convx.conv2d_input(x.shape, w.astype(adt), gy.astype(gdt), **geo)
    assert gx.dtype == expected
    np.testing.assert_array_equal(gx, ref_conv2d_input(x.shape, w, gy, **geo).astype(expected))


def test_gradients_accept_lists():
    """Lists are accepted for input / weight / grad_output (float64 data -> float64)."""
    x = [[[[1.0, 2.0, 3.0]]]]                  # (1, 1, 1, 3)
    w = [[[[1.0, -1.0]]]]                      # (1, 1, 1, 2)
    gy = [[[[1.0, 2.0]]]]                      # (1, 1, 1, 2)
    gw = convx.conv2d_weight(x, (1, 1, 1, 2), gy)
    np.testing.assert_array_equal(gw, [[[[1 * 1 + 2 * 2, 2 * 1 + 3 * 2]]]])
    gx = convx.conv2d_input((1, 1, 1, 3), w, gy)
    np.testing.assert_array_equal(gx, [[[[1.0, 2.0 - 1.0, -2.0]]]])
    assert gw.dtype == np.float64 and gx.dtype == np.float64


def test_sizes_accept_lists(rng):
    """weight_size and input_size may be lists as well as tuples (e.g. a
    weight's shape, or list(x.shape))."""
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    gy = rng.standard_normal((2, 4, 4, 4))
    assert np.array_equal(convx.conv2d_weight(x, list(w.shape), gy),
                          convx.conv2d_weight(x, w.shape, gy))
    assert np.array_equal(convx.conv2d_input(list(x.shape), w, gy),
                          convx.conv2d_input(x.shape, w, gy))
