"""Specification: results do not depend on the memory format of the arguments.

Every array argument may come with any strides (negative, zero), in Fortran
order, read-only, unaligned, byte-swapped, or as a nested list; the result is
bit-identical to the one for the same values in a C-contiguous native array,
and it is always a new, native-byte-order, C-contiguous array.

``out=`` (conv2d only) may have any strides and may overlap the inputs; the
result is written into ``out``, ``out`` itself is returned, and it holds what
it would hold without the overlap.
"""

import numpy as np
import pytest

import convx
from reference import ALGORITHMS, DTYPES, ref_conv2d

# Shared problem: x (2, 3, 7, 8), w (4, 3, 3, 2), stride (2, 1), asymmetric
# padding, so the output (2, 4, 3, 9) is not square either.
GEO = dict(stride=(2, 1), padding=((1, 0), (1, 1)))
X_SHAPE, W_SHAPE, Y_SHAPE = (2, 3, 7, 8), (4, 3, 3, 2), (2, 4, 3, 9)


def _problem(dtype):
    rng = np.random.default_rng(2024)
    x = rng.standard_normal(X_SHAPE).astype(dtype)
    w = rng.standard_normal(W_SHAPE).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    gy = rng.standard_normal(Y_SHAPE).astype(dtype)
    return x, w, b, gy


# -- layouts: each returns an array with the values of the C-contiguous ``a``

def fortran(a):
    return np.asfortranarray(a)


def strided(a):
    """Every other element of a bigger buffer along every axis."""
    big = np.full(tuple(2 * n + 1 for n in a.shape), np.nan, a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def negative_strides(a):
    """Reversed along every axis (x[..., ::-1] style views)."""
    rev = tuple(slice(None, None, -1) for _ in a.shape)
    return a[rev].copy()[rev]


def last_axis_reversed(a):
    return a[..., ::-1].copy()[..., ::-1]


def transposed(a):
    """A permuted-axes view of a contiguous array (channels-last-like strides)."""
    order = tuple(range(1, a.ndim)) + (0,)
    inverse = tuple(np.argsort(order))
    return np.ascontiguousarray(a.transpose(order)).transpose(inverse)


def read_only(a):
    c = a.copy()
    c.setflags(write=False)
    return c


def unaligned(a):
    """The same values in a buffer starting one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    u = raw[1:].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert a.size <= 1 or not u.flags.aligned
    return u


def byteswapped(a):
    """Non-native byte order ('>f4' on little-endian machines)."""
    s = a.astype(a.dtype.newbyteorder())
    assert not s.dtype.isnative
    return s


LAYOUTS = [fortran, strided, negative_strides, last_axis_reversed, transposed,
           read_only, unaligned, byteswapped]


def _run(op, x, w, b, gy, algorithm):
    if op == "conv2d":
        return convx.conv2d(x, w, b, **GEO, algorithm=algorithm)
    if op == "conv2d_weight":
        return convx.conv2d_weight(x, W_SHAPE, gy, **GEO, algorithm=algorithm)
    return convx.conv2d_input(X_SHAPE, w, gy, **GEO, algorithm=algorithm)


OPS = ["conv2d", "conv2d_weight", "conv2d_input"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("op", OPS)
def test_layout_gives_identical_result(op, layout, dtype, algorithm):
    """Every array argument in ``layout`` gives bit-identical results to C-contiguous
    native arrays; the result is a new native C-contiguous array; inputs are not modified."""
    args = _problem(dtype)
    expected = _run(op, *args, algorithm)
    variants = [layout(a) for a in args]
    before = [v.copy() for v in variants]
    got = _run(op, *variants, algorithm)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.flags.c_contiguous and got.flags.writeable
    assert not any(np.shares_memory(got, v) for v in variants)
    assert np.array_equal(got, expected)
    for v, v0 in zip(variants, before):
        assert np.array_equal(v, v0)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_mixed_layouts(op, algorithm):
    """Different layouts for different arguments in one call still give identical results."""
    args = _problem(np.float32)
    expected = _run(op, *args, algorithm)
    x, w, b, gy = args
    got = _run(op, negative_strides(x), byteswapped(w), unaligned(b), fortran(gy), algorithm)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_nested_lists(op, algorithm):
    """Nested Python lists give the same result as float64 arrays."""
    args = _problem(np.float64)
    expected = _run(op, *args, algorithm)
    got = _run(op, *[a.tolist() for a in args], algorithm)
    assert got.dtype == np.float64
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_strides_broadcast(op, algorithm, rng):
    """Zero-stride (np.broadcast_to) arguments give the same result as their
    contiguous copies."""
    x = np.broadcast_to(rng.standard_normal((1, 3, 1, 8)), X_SHAPE)    # strides 0 on N, H
    w = np.broadcast_to(rng.standard_normal((4, 1, 3, 1)), W_SHAPE)    # strides 0 on C, S
    b = np.broadcast_to(np.float64(0.5), (4,))                          # stride 0
    gy = np.broadcast_to(rng.standard_normal((1, 4, 3, 1)), Y_SHAPE)
    assert 0 in x.strides and 0 in w.strides and 0 in gy.strides
    expected = _run(op, *[np.ascontiguousarray(a) for a in (x, w, b, gy)], algorithm)
    got = _run(op, x, w, b, gy, algorithm)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_non_contiguous(algorithm):
    """An unbatched (C, H, W) input given as a strided, reversed view."""
    x, w, b, _ = _problem(np.float64)
    x3 = x[1]
    expected = convx.conv2d(x3, w, b, **GEO, algorithm=algorithm)
    got = convx.conv2d(strided(x3)[:, ::-1, :][:, ::-1, :], w, b, **GEO, algorithm=algorithm)
    assert np.array_equal(got, expected)
    np.testing.assert_allclose(expected, ref_conv2d(x3, w, b, **GEO), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------

# Each returns (out, enclosing buffer, index such that buffer[index] is out).

def _out_contiguous(dtype):
    big = np.full(Y_SHAPE, np.nan, dtype)
    return big, big, (...,)


def _out_strided(dtype):
    """A strided slice of a bigger NaN-filled array (N, 2K, P + 1, 2Q)."""
    big = np.full((2, 8, 4, 18), np.nan, dtype)
    index = (slice(None), slice(None, None, 2), slice(1, None), slice(1, None, 2))
    return big[index], big, index


def _out_negative(dtype):
    big = np.full(Y_SHAPE, np.nan, dtype)
    index = (slice(None, None, -1), slice(None), slice(None, None, -1), slice(None, None, -1))
    return big[index], big, index


def _out_fortran(dtype):
    big = np.asfortranarray(np.full(Y_SHAPE, np.nan, dtype))
    return big, big, (...,)


def _out_column_of_wider(dtype):
    """Rows of the output interleaved with rows of another array (W stride 1, H stride 2Q)."""
    big = np.full((2, 4, 3, 20), np.nan, dtype)
    index = (..., slice(3, 12))
    return big[index], big, index


OUTS = [_out_contiguous, _out_strided, _out_negative, _out_fortran, _out_column_of_wider]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("make_out", OUTS, ids=lambda f: f.__name__[5:])
def test_out_any_strides(make_out, dtype, algorithm):
    """conv2d(..., out=out) writes the result into out (any strides), returns
    out itself, and touches no element of the enclosing buffer outside out."""
    x, w, b, _ = _problem(dtype)
    expected = convx.conv2d(x, w, b, **GEO, algorithm=algorithm)
    out, big, index = make_out(dtype)
    assert out.shape == Y_SHAPE
    res = convx.conv2d(x, w, b, **GEO, algorithm=algorithm, out=out)
    assert res is out
    assert np.array_equal(out, expected)
    outside = np.ones(big.shape, bool)
    outside[index] = False
    assert np.all(np.isnan(big[outside]))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_out_unbatched(algorithm):
    """out for an unbatched input is the 3-D (K, P, Q) array."""
    x, w, b, _ = _problem(np.float32)
    out = np.empty(Y_SHAPE[1:], np.float32)
    res = convx.conv2d(x[0], w, b, **GEO, algorithm=algorithm, out=out)
    assert res is out
    assert np.array_equal(out, convx.conv2d(x[0], w, b, **GEO, algorithm=algorithm))


# -- out overlapping the inputs: the result is as if it did not overlap

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kernel", [1, 3], ids=["1x1", "3x3_pad1"])
def test_out_is_the_input(kernel, algorithm, rng):
    """K == C and a shape-preserving conv: out=x overwrites the input with the
    result computed from the original input."""
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 4, kernel, kernel))
    b = rng.standard_normal(4)
    pad = kernel // 2
    expected = convx.conv2d(x.copy(), w, b, padding=pad, algorithm=algorithm)
    res = convx.conv2d(x, w, b, padding=pad, algorithm=algorithm, out=x)
    assert res is x
    assert np.array_equal(x, expected)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("shift", [-7, 1, 30])
def test_out_partially_overlaps_input(shift, algorithm, rng):
    """out and x are different windows of one buffer (shifted by ``shift``
    elements): the result equals the non-overlapping computation."""
    n = 2 * 4 * 5 * 6
    buf = np.zeros(n + abs(shift))
    xs, os_ = (0, shift) if shift > 0 else (-shift, 0)
    x = buf[xs:xs + n].reshape(2, 4, 5, 6)
    x[...] = rng.standard_normal(x.shape)
    out = buf[os_:os_ + n].reshape(2, 4, 5, 6)
    assert np.shares_memory(x, out)
    w = rng.standard_normal((4, 4, 3, 3))
    expected = convx.conv2d(x.copy(), w, padding=1, algorithm=algorithm)
    res = convx.conv2d(x, w, padding=1, algorithm=algorithm, out=out)
    assert res is out
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_out_overlaps_weight_and_bias(algorithm, rng):
    """out is a reshaped view of the weight's buffer, and the bias is a view
    of the same buffer too."""
    K, C = 3, 5
    buf = rng.standard_normal(K * C)
    w = buf.reshape(K, C, 1, 1)
    b = buf[2:2 + K]
    x = rng.standard_normal((1, C, 1, C))
    out = buf.reshape(1, K, 1, C)         # the result has shape (1, K, 1, C)
    expected = convx.conv2d(x, w.copy(), b.copy(), algorithm=algorithm)
    res = convx.conv2d(x, w, b, algorithm=algorithm, out=out)
    assert res is out
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_out_is_reversed_view_of_input(algorithm, rng):
    """out is x reversed along W: every output element aliases a different input element."""
    x = rng.standard_normal((1, 3, 4, 5))
    w = rng.standard_normal((3, 3, 1, 1))
    expected = convx.conv2d(x.copy(), w, algorithm=algorithm)
    out = x[..., ::-1]
    res = convx.conv2d(x, w, algorithm=algorithm, out=out)
    assert res is out
    assert np.array_equal(out, expected)
