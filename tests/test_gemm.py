"""convx's own blocked GEMM (the engine of the im2col path), against numpy.

These run on the path selected at import (test_isa.py repeats edge cases
relative to each path's own tile). Named edge cases in the XNNPACK style: the
reduction length k below, at and above the cache block KC (256), m and n
around the generic tile (4x8 float32, 4x4 float64) and the cache blocks;
strided and transposed operands; accumulate vs overwrite (overwrite must never
read C, so a C full of NaN is fine).
"""

import numpy as np
import pytest

from convx import _conv

DTYPES = [np.float32, np.float64]

CASES = {
    # name: (m, n, k)
    "one": (1, 1, 1),
    "k_lt_kc": (4, 8, 7),
    "k_eq_kc": (4, 8, 256),
    "k_gt_kc": (4, 8, 300),
    "k_multi_kc": (5, 9, 600),
    "m_lt_mr": (3, 8, 16),
    "m_gt_mr": (5, 8, 16),
    "n_lt_nr": (4, 3, 16),
    "n_gt_nr": (4, 9, 16),
    "n_gt_nr_f64": (4, 5, 16),
    "m_gt_mc": (131, 17, 33),
    "n_gt_nc": (6, 1100, 20),
    "all_odd": (37, 53, 71),
    "k_zero": (5, 7, 0),
}


def _tol(dtype, k):
    eps = np.finfo(dtype).eps
    return 4 * eps * max(k, 1) ** 0.5


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_gemm_overwrite_matches_numpy(case, dtype):
    m, n, k = CASES[case]
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.full((m, n), np.nan, dtype)          # never read when overwriting
    _conv.gemm(a, b, c, False)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + 1e-30
    assert np.all(np.isfinite(c))
    assert np.all(np.abs(c - ref) <= _tol(dtype, k) * scale + 1e-30)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gemm_accumulate_adds_to_c(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((13, 300)).astype(dtype)
    b = rng.standard_normal((300, 19)).astype(dtype)
    c0 = rng.standard_normal((13, 19)).astype(dtype)
    c = c0.copy()
    _conv.gemm(a, b, c, True)
    ref = c0.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=0, atol=1e-3 if dtype == np.float32 else 1e-11)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gemm_strided_and_transposed_operands(dtype):
    """A transposed, B with a column stride, C a strided window of a larger array."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 11)).astype(dtype).T           # (11, 40), csa != 1
    b = rng.standard_normal((40, 2 * 23)).astype(dtype)[:, ::2]  # (40, 23), csb = 2
    big = np.full((30, 60), 7.0, dtype)
    c = big[3:14, 5:51:2]                                        # (11, 23), csc = 2
    _conv.gemm(a, b, c, False)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    # nothing outside the window was written
    mask = np.ones(big.shape, bool)
    mask[3:14, 5:51:2] = False
    assert np.all(big[mask] == 7.0)


def test_gemm_integer_data_is_exact():
    """Sums of small integers are exact in float32: the GEMM must agree bit for bit."""
    rng = np.random.default_rng(4)
    a = rng.integers(-3, 4, (33, 520)).astype(np.float32)
    b = rng.integers(-3, 4, (520, 29)).astype(np.float32)
    c = np.empty((33, 29), np.float32)
    _conv.gemm(a, b, c, False)
    assert np.array_equal(c, (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32))


def test_gemm_rejects_mismatched_shapes():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        _conv.gemm(a, np.zeros((4, 2), np.float32), np.zeros((2, 2), np.float32), False)
