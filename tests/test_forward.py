"""Specification of convx.conv2d (the forward pass) against the naive reference.

* the padding resolver of the reference itself, on hand-computed cases;
* every algorithm ("direct", "im2col", "auto") and both float dtypes over the
  named shape sweep ``reference.CASES``, with a tolerance that grows with the
  reduction length C/groups * R * S;
* integer-valued float32 data: every algorithm equals the reference exactly;
* degenerate sizes (N = 0, C = 0) and the dtype promotion policy.
"""

import functools

import numpy as np
import pytest

import convx
from reference import (
    ALGORITHMS, CASES, DTYPES, assert_matches_reference, case_arrays,
    output_hw, reduction_length, ref_conv2d, resolve_padding,
)

# ---------------------------------------------------------------------------
# The reference's padding resolver, checked by hand
# ---------------------------------------------------------------------------

# (padding, (H, W), (R, S), stride, dilation) -> ((top, bottom), (left, right))
HAND_PADDINGS = [
    pytest.param("valid", (5, 6), (3, 3), 1, 1, ((0, 0), (0, 0)), id="valid"),
    pytest.param(2, (5, 6), (3, 3), 1, 1, ((2, 2), (2, 2)), id="int"),
    pytest.param((1, 3), (5, 6), (3, 3), 1, 1, ((1, 1), (3, 3)), id="pair"),
    pytest.param(((0, 2), (3, 1)), (5, 6), (3, 3), 1, 1, ((0, 2), (3, 1)), id="nested"),
    # same, stride 1, odd kernel: total 2 split evenly
    pytest.param("same", (5, 5), (3, 3), 1, 1, ((1, 1), (1, 1)), id="same_s1_k3"),
    # same, stride 1, even kernel 4: total 3, the odd pixel at the bottom
    pytest.param("same", (7, 7), (4, 2), 1, 1, ((1, 2), (0, 1)), id="same_s1_even"),
    # H=9,R=3,s=2: out 5, total 8+2+1-9=2; W=10,S=4: out 5, total 8+3+1-10=2
    pytest.param("same", (9, 10), (3, 4), 2, 1, ((1, 1), (1, 1)), id="same_s2"),
    # H=8,R=3,s=2: out 4, total 6+2+1-8=1 -> (0, 1)
    pytest.param("same", (8, 8), (3, 3), 2, 1, ((0, 1), (0, 1)), id="same_s2_odd_total"),
    # H=10,R=5,s=3: out 4, total 9+4+1-10=4; W=11,S=2: out 4, total 9+1+1-11=0
    pytest.param("same", (10, 11), (5, 2), 3, 1, ((2, 2), (0, 0)), id="same_s3"),
    # H=8,R=3,d=2: total 7+4+1-8=4 ; W=8,S=2,d=3: total 7+3+1-8=3
    pytest.param("same", (8, 8), (3, 2), 1, (2, 3), ((2, 2), (1, 2)), id="same_dilation"),
    # H=6,R=1,s=2: out 3, 4+0+1-6 = -1 -> clamped to 0
    pytest.param("same", (6, 6), (1, 1), 2, 1, ((0, 0), (0, 0)), id="same_clamped_to_0"),
    # kernel larger than the image: H=3,R=5: total 2+4+1-3=4
    pytest.param("same", (3, 4), (5, 5), 1, 1, ((2, 2), (2, 2)), id="same_kernel_gt_image"),
]


@pytest.mark.parametrize("padding, hw, rs, stride, dilation, expected", HAND_PADDINGS)
def test_reference_resolve_padding(padding, hw, rs, stride, dilation, expected):
    """The reference resolves each padding form as computed by hand."""
    assert resolve_padding(padding, hw, rs, stride, dilation) == expected


def test_reference_same_output_is_ceil_h_over_stride():
    """'same' padding gives ceil(H / stride) outputs for every H, R, stride, dilation."""
    for H in range(1, 12):
        for R in range(1, 6):
            for s in range(1, 5):
                for d in range(1, 3):
                    P, _ = output_hw((H, 4), (R, 1), s, "same", d)
                    assert P == -(-H // s), (H, R, s, d)


def test_reference_matches_hand_computed_conv():
    """The reference on a 1x1x3x3 image with a 2x2 kernel, padding ((0,1),(1,0)), by hand."""
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    w = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    # padded: [[0,1,2,3],[0,4,5,6],[0,7,8,9],[0,0,0,0]]; out is 3x3
    expected = np.array([[0 + 10 * 1 + 100 * 0 + 1000 * 4, 1 + 20 + 400 + 5000, 2 + 30 + 500 + 6000],
                         [0 + 40 + 0 + 7000, 4 + 50 + 700 + 8000, 5 + 60 + 800 + 9000],
                         [0 + 70 + 0 + 0, 7 + 80 + 0 + 0, 8 + 90 + 0 + 0]])
    got = ref_conv2d(x, w, np.array([0.5]), padding=((0, 1), (1, 0)))
    np.testing.assert_array_equal(got[0, 0], expected + 0.5)


# ---------------------------------------------------------------------------
# The named sweep against the reference
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _reference_forward(case_id, dtype):
    """Reference (float64) on exactly the values the test passes in ``dtype``."""
    case = next(c for c in CASES if c.id == case_id)
    x, w, b, _ = case_arrays(case, dtype)
    ref = ref_conv2d(x, w, b, **case.geometry)
    magnitude = ref_conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b),
                           **case.geometry)
    return ref, magnitude


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_conv2d_matches_reference(case, dtype, algorithm):
    """conv2d equals the float64 reference within a reduction-scaled tolerance;
    the result has the contract's shape and dtype and is C-contiguous."""
    x, w, b, _ = case_arrays(case, dtype)
    ref, magnitude = _reference_forward(case.id, dtype)
    y = convx.conv2d(x, w, b, **case.geometry, algorithm=algorithm)
    assert isinstance(y, np.ndarray)
    assert y.shape == case.y_shape
    assert y.flags.c_contiguous
    assert_matches_reference(y, ref, magnitude,
                             reduction_length("forward", x.shape, w.shape, None, case.groups),
                             dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_conv2d_integer_valued_is_exact(case, dtype):
    """On small-integer data every partial sum is exact, so direct, im2col,
    auto and the reference agree bit for bit."""
    x, w, b, _ = case_arrays(case, dtype, integer=True)
    ref = ref_conv2d(x, w, b, **case.geometry).astype(dtype)
    for algorithm in ALGORITHMS:
        y = convx.conv2d(x, w, b, **case.geometry, algorithm=algorithm)
        assert y.dtype == dtype
        assert np.array_equal(y, ref), algorithm


# ---------------------------------------------------------------------------
# Degenerate sizes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_zero_input_channels_output_is_bias(dtype, algorithm):
    """C = 0 (with padding so the output is not empty): the output is exactly
    the bias broadcast over (N, P, Q), or zeros without a bias."""
    x = np.zeros((2, 0, 4, 5), dtype)
    w = np.zeros((3, 0, 3, 3), dtype)
    b = np.array([1.5, -2.0, 0.25], dtype)
    y = convx.conv2d(x, w, b, padding=1, algorithm=algorithm)
    assert y.shape == (2, 3, 4, 5) and y.dtype == dtype
    assert np.array_equal(y, np.broadcast_to(b[None, :, None, None], y.shape))
    y0 = convx.conv2d(x, w, padding=1, algorithm=algorithm)
    assert np.array_equal(y0, np.zeros((2, 3, 4, 5), dtype))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_batch_gives_empty_output(algorithm):
    """N = 0: the result is an empty (0, K, P, Q) array of the result dtype."""
    x = np.zeros((0, 3, 7, 6), np.float32)
    w = np.ones((5, 3, 3, 2), np.float32)
    y = convx.conv2d(x, w, np.ones(5, np.float32), stride=2, algorithm=algorithm)
    assert y.shape == (0, 5, 3, 3) and y.dtype == np.float32


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_equals_batch_of_one(algorithm, rng):
    """A (C, H, W) input gives the (K, P, Q) slice of the batched result."""
    x = rng.standard_normal((3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    y3 = convx.conv2d(x, w, stride=2, padding="same", algorithm=algorithm)
    y4 = convx.conv2d(x[None], w, stride=2, padding="same", algorithm=algorithm)
    assert y3.shape == (4, 5, 4)
    np.testing.assert_allclose(y3, y4[0], rtol=1e-13, atol=1e-13)


def test_result_does_not_alias_inputs():
    """The result is a new array: a 1x1 conv with K == C never returns or views its input."""
    x = np.ones((1, 4, 3, 3))
    w = np.eye(4).reshape(4, 4, 1, 1)
    y = convx.conv2d(x, w)
    assert not np.shares_memory(y, x) and not np.shares_memory(y, w)
    np.testing.assert_array_equal(y, x)
    y[...] = 5.0
    assert np.all(x == 1.0)


# ---------------------------------------------------------------------------
# dtype policy
# ---------------------------------------------------------------------------

F16, F32, F64 = np.float16, np.float32, np.float64

PROMOTIONS = [
    pytest.param(F32, F32, None, F32, id="f32+f32->f32"),
    pytest.param(F64, F64, None, F64, id="f64+f64->f64"),
    pytest.param(F32, F64, None, F64, id="f32+f64->f64"),
    pytest.param(F64, F32, None, F64, id="f64+f32->f64"),
    pytest.param(F32, F32, F64, F64, id="f32+f32+bias_f64->f64"),
    pytest.param(F32, F32, F32, F32, id="f32+f32+bias_f32->f32"),
    pytest.param(F32, F32, F16, F32, id="f32+f32+bias_f16->f32"),
    pytest.param(F16, F16, None, F32, id="f16+f16->f32"),
    pytest.param(F16, F32, None, F32, id="f16+f32->f32"),
    pytest.param(F16, F64, None, F64, id="f16+f64->f64"),
    pytest.param(np.int64, np.int64, None, F64, id="i64+i64->f64"),
    pytest.param(np.int32, np.int8, np.int16, F64, id="i32+i8+bias_i16->f64"),
    pytest.param(np.uint8, np.uint8, None, F64, id="u8+u8->f64"),
    pytest.param(np.bool_, np.bool_, None, F64, id="bool+bool->f64"),
    pytest.param(np.int64, F32, None, F64, id="i64+f32->f64"),
    pytest.param(F32, F32, np.int64, F64, id="f32+f32+bias_i64->f64"),
]


@pytest.mark.parametrize("xdt, wdt, bdt, expected", PROMOTIONS)
def test_conv2d_dtype_promotion(xdt, wdt, bdt, expected, rng):
    """Result dtype is numpy's promotion of the inputs, integers/bool -> float64,
    float16 -> float32; values equal the computation on converted inputs."""
    x = rng.integers(0, 2, (2, 3, 5, 6)).astype(xdt)
    w = rng.integers(0, 2, (4, 3, 3, 2)).astype(wdt)
    b = None if bdt is None else rng.integers(0, 2, 4).astype(bdt)
    y = convx.conv2d(x, w, b, padding=1)
    assert y.dtype == expected
    bb = None if b is None else b.astype(expected)
    np.testing.assert_array_equal(
        y, convx.conv2d(x.astype(expected), w.astype(expected), bb, padding=1))
    np.testing.assert_array_equal(
        y, ref_conv2d(x.astype(F64), w.astype(F64),
                      None if b is None else b.astype(F64), padding=1).astype(expected))


def test_conv2d_accepts_nested_lists():
    """Python lists are accepted (and, being float64 data, give float64)."""
    x = [[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]]          # (1, 1, 2, 3)
    w = [[[[1.0, -1.0]]]]                                # (1, 1, 1, 2)
    y = convx.conv2d(x, w, [0.5])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[[[-0.5, -0.5], [-0.5, -0.5]]]])


# ---------------------------------------------------------------------------
# Spellings of the geometry arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", [
    pytest.param(dict(stride=[2, 1], padding=[[1, 0], [0, 2]], dilation=[1, 2]), id="lists"),
    pytest.param(dict(stride=(np.int64(2), np.int32(1)), padding=((np.int8(1), 0), (0, np.uint16(2))),
                      dilation=(1, np.int64(2)), groups=np.int64(1)), id="numpy_integers"),
])
def test_geometry_spellings_are_equivalent(spelling, rng):
    """Lists instead of tuples, and numpy integers instead of Python ints,
    mean the same geometry: stride (2, 1), padding ((1, 0), (0, 2)), dilation (1, 2)."""
    x = rng.standard_normal((2, 3, 7, 8))
    w = rng.standard_normal((4, 3, 2, 3))
    expected = convx.conv2d(x, w, stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2))
    assert np.array_equal(convx.conv2d(x, w, **spelling), expected)
    np.testing.assert_allclose(
        expected, ref_conv2d(x, w, stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2)),
        rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding, equivalent", [
    pytest.param("valid", 0, id="valid_is_0"),
    pytest.param(2, ((2, 2), (2, 2)), id="int_is_nested"),
    pytest.param((1, 2), ((1, 1), (2, 2)), id="pair_is_nested"),
    pytest.param("same", ((1, 1), (0, 1)), id="same_3x2_is_nested"),
])
def test_padding_forms_are_equivalent(padding, equivalent, rng):
    """Each padding form gives bit-identical results to its explicit nested form
    (here with a 3x2 kernel at stride 1, where 'same' pads ((1, 1), (0, 1)))."""
    x = rng.standard_normal((1, 2, 6, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    assert np.array_equal(convx.conv2d(x, w, padding=padding), convx.conv2d(x, w, padding=equivalent))
