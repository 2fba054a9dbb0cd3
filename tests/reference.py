"""Naive float64 reference for 2-D convolution and its two gradients.

Written for clarity, not speed, and independently of convx's own code: the
input is zero-padded explicitly with ``np.pad`` (so asymmetric padding is just
``np.pad``), and the convolution is a sum over the kernel taps (r, s) and the
groups, each tap being one strided slice of the padded input contracted with
one column of the weight by ``np.einsum``.

Layouts follow PyTorch / the convx contract:

    input        (N, C, H, W)          or unbatched (C, H, W)
    weight       (K, C // groups, R, S)
    bias         (K,)
    output       (N, K, P, Q)          or unbatched (K, P, Q)

    P = (H + top + bottom - dilation_h * (R - 1) - 1) // stride_h + 1
    Q = (W + left + right - dilation_w * (S - 1) - 1) // stride_w + 1

    out[n, k, p, q] = bias[k] + sum_{c, r, s} w[k, c, r, s] *
        xpad[n, g * Cg + c, p * stride_h + r * dilation_h, q * stride_w + s * dilation_w]

with g = k // (K // groups) and Cg = C // groups.

Every function accepts ``padding`` in any form the public API accepts ("same",
"valid", int, (pad_h, pad_w), ((top, bottom), (left, right))); it is resolved
here by :func:`resolve_padding`, which re-implements the TensorFlow "same" rule
from its definition.
"""

import math
import zlib
from typing import NamedTuple

import numpy as np

__all__ = [
    "pair",
    "resolve_padding",
    "output_hw",
    "ref_conv2d",
    "ref_conv2d_weight",
    "ref_conv2d_input",
    "reduction_length",
    "float_tolerance",
    "assert_matches_reference",
    "ALGORITHMS",
    "DTYPES",
    "Case",
    "CASES",
    "case_arrays",
]


def pair(v):
    """An int or a pair of ints as a tuple of two ints (no validation)."""
    if isinstance(v, (tuple, list)):
        a, b = v
        return int(a), int(b)
    return int(v), int(v)


def resolve_padding(padding, in_hw, kernel_hw, stride=1, dilation=1):
    """Resolve any padding form into ``((top, bottom), (left, right))``.

    ``in_hw`` is (H, W), ``kernel_hw`` is (R, S).  "same" follows TensorFlow:
    out = ceil(H / stride), total = max((out - 1) * stride + (R - 1) * dilation
    + 1 - H, 0), and the odd pixel goes to the bottom / right.
    """
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    H, W = in_hw
    R, S = kernel_hw
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            def same(n, k, s, d):
                out = -(-n // s)  # ceil(n / s) in exact integer arithmetic
                total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
                return total // 2, total - total // 2
            return same(H, R, sh, dh), same(W, S, sw, dw)
        raise ValueError(f"unknown padding {padding!r}")
    if isinstance(padding, (tuple, list)):
        ph, pw = padding
        if isinstance(ph, (tuple, list)):
            (t, b), (l, r) = ph, pw
            return (int(t), int(b)), (int(l), int(r))
        return (int(ph), int(ph)), (int(pw), int(pw))
    p = int(padding)
    return (p, p), (p, p)


def output_hw(in_hw, kernel_hw, stride=1, padding=0, dilation=1):
    """Output (P, Q) of the forward pass (the formula in the contract)."""
    (t, b), (l, r) = resolve_padding(padding, in_hw, kernel_hw, stride, dilation)
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    H, W = in_hw
    R, S = kernel_hw
    P = (H + t + b - dh * (R - 1) - 1) // sh + 1
    Q = (W + l + r - dw * (S - 1) - 1) // sw + 1
    return P, Q


def _batched(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        return x[None], True
    assert x.ndim == 4, x.shape
    return x, False


def _tap(r, s, P, Q, stride, dilation):
    """Index of the padded input rows/cols read by kernel tap (r, s)."""
    sh, sw = stride
    dh, dw = dilation
    rows = slice(r * dh, r * dh + (P - 1) * sh + 1, sh)
    cols = slice(s * dw, s * dw + (Q - 1) * sw + 1, sw)
    return rows, cols


def ref_conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Forward convolution in float64 (result shape as in the contract)."""
    x, unbatched = _batched(x)
    w = np.asarray(w, dtype=np.float64)
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    assert C == Cg * groups and K % groups == 0, (x.shape, w.shape, groups)
    Kg = K // groups
    st, dl = pair(stride), pair(dilation)
    (t, b), (l, r_) = resolve_padding(padding, (H, W), (R, S), st, dl)
    P, Q = output_hw((H, W), (R, S), st, ((t, b), (l, r_)), dl)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r_)))
    out = np.zeros((N, K, P, Q))
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                rows, cols = _tap(r, s, P, Q, st, dl)
                out[:, g * Kg:(g + 1) * Kg] += np.einsum(
                    "nchw,kc->nkhw", xg[:, :, rows, cols], wg[:, :, r, s])
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out[0] if unbatched else out


def ref_conv2d_weight(x, weight_shape, gy, stride=1, padding=0, dilation=1,
                      groups=1):
    """Gradient of sum(ref_conv2d(x, w) * gy) with respect to w."""
    x, unbatched = _batched(x)
    gy = np.asarray(gy, dtype=np.float64)
    if unbatched:
        gy = gy[None]
    N, C, H, W = x.shape
    K, Cg, R, S = weight_shape
    Kg = K // groups
    st, dl = pair(stride), pair(dilation)
    (t, b), (l, r_) = resolve_padding(padding, (H, W), (R, S), st, dl)
    P, Q = output_hw((H, W), (R, S), st, ((t, b), (l, r_)), dl)
    assert gy.shape == (N, K, P, Q), (gy.shape, (N, K, P, Q))
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r_)))
    gw = np.zeros((K, Cg, R, S))
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        gyg = gy[:, g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                rows, cols = _tap(r, s, P, Q, st, dl)
                gw[g * Kg:(g + 1) * Kg, :, r, s] = np.einsum(
                    "nchw,nkhw->kc", xg[:, :, rows, cols], gyg)
    return gw


def ref_conv2d_input(input_shape, w, gy, stride=1, padding=0, dilation=1,
                     groups=1):
    """Gradient of sum(ref_conv2d(x, w) * gy) with respect to x.

    Scatters every tap into a zero padded buffer and crops the padding off;
    rows/cols that no output reads stay exactly zero.
    """
    input_shape = tuple(input_shape)
    unbatched = len(input_shape) == 3
    if unbatched:
        input_shape = (1,) + input_shape
    w = np.asarray(w, dtype=np.float64)
    gy = np.asarray(gy, dtype=np.float64)
    if unbatched:
        gy = gy[None]
    N, C, H, W = input_shape
    K, Cg, R, S = w.shape
    Kg = K // groups
    st, dl = pair(stride), pair(dilation)
    (t, b), (l, r_) = resolve_padding(padding, (H, W), (R, S), st, dl)
    P, Q = output_hw((H, W), (R, S), st, ((t, b), (l, r_)), dl)
    assert gy.shape == (N, K, P, Q), (gy.shape, (N, K, P, Q))
    gxp = np.zeros((N, C, H + t + b, W + l + r_))
    for g in range(groups):
        gyg = gy[:, g * Kg:(g + 1) * Kg]
        wg = w[g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                rows, cols = _tap(r, s, P, Q, st, dl)
                gxp[:, g * Cg:(g + 1) * Cg, rows, cols] += np.einsum(
                    "nkhw,kc->nchw", gyg, wg[:, :, r, s])
    gx = gxp[:, :, t:t + H, l:l + W]
    return gx[0] if unbatched else gx


def reduction_length(op, x_shape, w_shape, gy_shape, groups=1):
    """Number of products summed into one output element of ``op``.

    Used to scale floating point tolerances: forward sums C/groups * R * S
    products, the weight gradient N * P * Q, the input gradient at most
    K/groups * R * S.
    """
    K, Cg, R, S = w_shape
    if op == "forward":
        return max(Cg * R * S, 1)
    if op == "weight":
        n = gy_shape[0] * gy_shape[-2] * gy_shape[-1] if len(gy_shape) == 4 \
            else gy_shape[-2] * gy_shape[-1]
        return max(n, 1)
    if op == "input":
        return max((K // groups) * R * S, 1)
    raise ValueError(op)


def float_tolerance(dtype, reduction, magnitude, safety=8.0):
    """Elementwise absolute tolerance for a sum of ``reduction`` products.

    ``magnitude`` is the same sum computed on absolute values (an array), so
    the bound is ``safety * eps * sqrt(reduction) * sum|terms|``: rounding
    errors of any summation order grow like sqrt(reduction) on random data,
    and a missing or wrong term (an indexing bug) is orders of magnitude
    larger than this.
    """
    eps = np.finfo(dtype).eps
    return safety * eps * math.sqrt(reduction + 1) * magnitude


def assert_matches_reference(got, ref, magnitude, reduction, dtype, safety=8.0):
    """Check ``got`` (computed in ``dtype``) against the float64 ``ref``.

    Shape and dtype must match exactly; every element must be within
    :func:`float_tolerance` of the reference (``magnitude`` is the reference
    evaluated on absolute values).
    """
    dtype = np.dtype(dtype)
    assert got.dtype == dtype, (got.dtype, dtype)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    tol = float_tolerance(dtype, reduction, magnitude, safety)
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= tol)  # also catches NaN
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} elements differ from the reference; "
            f"first at {idx}: got {got[idx]!r}, reference {ref[idx]!r}, "
            f"tolerance {tol[idx]!r} (reduction length {reduction})")


# ---------------------------------------------------------------------------
# Named shape sweep shared by test_forward.py and test_gradients.py
# ---------------------------------------------------------------------------

ALGORITHMS = ("direct", "im2col", "auto")
DTYPES = (np.float32, np.float64)


class Case(NamedTuple):
    """One convolution problem; ``id`` says what it exercises."""
    id: str
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    groups: int = 1
    bias: bool = True
    unbatched: bool = False

    @property
    def x_shape(self):
        shape = (self.N, self.C, self.H, self.W)
        return shape[1:] if self.unbatched else shape

    @property
    def w_shape(self):
        return (self.K, self.C // self.groups, self.R, self.S)

    @property
    def y_shape(self):
        P, Q = output_hw((self.H, self.W), (self.R, self.S), self.stride,
                         self.padding, self.dilation)
        shape = (self.N, self.K, P, Q)
        return shape[1:] if self.unbatched else shape

    @property
    def geometry(self):
        """Keyword arguments shared by conv2d, conv2d_weight, conv2d_input."""
        return dict(stride=self.stride, padding=self.padding,
                    dilation=self.dilation, groups=self.groups)


def _c(id, N, C, H, W, K, R, S, **kw):
    return Case(id, N, C, H, W, K, R, S, **kw)


CASES = [
    # plain shapes; K below / at / above typical register-tile widths
    _c("basic_3x3_pad1", 2, 3, 8, 8, 4, 3, 3, padding=1),
    _c("K1", 2, 3, 6, 7, 1, 3, 3),
    _c("K8", 1, 4, 6, 6, 8, 3, 3, padding=1),
    _c("K33_above_unroll", 1, 3, 5, 6, 33, 2, 2, padding=1),
    _c("wide_row_W67", 1, 2, 3, 67, 5, 2, 3),
    # non-square kernels and images
    _c("nonsquare_2x4_on_7x10", 2, 3, 7, 10, 5, 2, 4),
    _c("nonsquare_3x1_pad_pair", 1, 4, 6, 9, 3, 3, 1, padding=(1, 0)),
    _c("nonsquare_1x5", 2, 2, 4, 9, 3, 1, 5, padding=(0, 2)),
    # strides, including larger than the kernel
    _c("stride2_3x3", 2, 3, 9, 8, 4, 3, 3, stride=2, padding=1),
    _c("stride3_gt_kernel2", 2, 2, 11, 9, 3, 2, 2, stride=3),
    _c("stride_pair_2x3_nonsq", 1, 3, 10, 13, 4, 3, 2, stride=(2, 3), padding=(1, 2)),
    _c("stride4_kernel1", 1, 3, 9, 10, 2, 1, 1, stride=4),
    # dilation
    _c("dilation2", 1, 3, 12, 11, 4, 3, 3, dilation=2, padding=2),
    _c("dilation_pair_2x3", 2, 2, 13, 12, 3, 3, 2, dilation=(2, 3)),
    _c("dilation2_stride2", 1, 2, 11, 12, 3, 3, 3, stride=2, dilation=2, padding=1),
    # every padding form
    _c("pad_valid", 2, 3, 7, 8, 4, 3, 2, padding="valid"),
    _c("pad_int2", 1, 3, 5, 6, 4, 3, 3, padding=2),
    _c("pad_pair_0_3", 1, 2, 6, 5, 3, 2, 3, padding=(0, 3)),
    _c("pad_asym", 2, 3, 6, 7, 4, 3, 3, padding=((0, 2), (3, 1))),
    _c("pad_asym_stride2", 1, 2, 7, 8, 3, 2, 3, stride=2, padding=((1, 0), (0, 2))),
    _c("pad_larger_than_kernel", 1, 2, 4, 5, 3, 2, 2, padding=((3, 4), (5, 2))),
    _c("pad_same_s1_even_kernel", 2, 3, 7, 8, 4, 4, 2, padding="same"),
    _c("pad_same_s2", 1, 3, 9, 10, 4, 3, 4, stride=2, padding="same"),
    _c("pad_same_s3", 1, 2, 10, 11, 3, 5, 2, stride=3, padding="same"),
    _c("pad_same_s2_dilation2", 1, 2, 8, 9, 3, 3, 2, stride=2, dilation=2, padding="same"),
    _c("pad_same_kernel_gt_image", 1, 2, 3, 4, 3, 5, 5, padding="same"),
    # groups and depthwise
    _c("groups2", 2, 4, 6, 7, 6, 3, 3, groups=2, padding=1),
    _c("groups3_stride2", 1, 6, 8, 7, 9, 3, 2, groups=3, stride=2, padding=1),
    _c("depthwise", 2, 4, 6, 6, 4, 3, 3, groups=4, padding=1),
    _c("depthwise_multiplier2", 1, 3, 7, 8, 6, 3, 3, groups=3, stride=2, padding=1),
    # degenerate sizes
    _c("N1", 1, 3, 6, 5, 4, 3, 3),
    _c("image_1x1_kernel_3x3_pad1", 2, 3, 1, 1, 4, 3, 3, padding=1),
    _c("image_1x1_kernel_1x1", 3, 5, 1, 1, 2, 1, 1),
    _c("image_1xW", 1, 3, 1, 9, 2, 1, 3, padding=(0, 1)),
    _c("batch0", 0, 3, 6, 6, 4, 3, 3, padding=1),
    _c("channels0_pad1", 2, 0, 4, 5, 3, 3, 3, padding=1),
    # 1x1, stride 1, no padding: the GEMM fast path
    _c("pointwise_1x1", 2, 5, 6, 7, 7, 1, 1),
    _c("pointwise_1x1_no_bias", 1, 8, 5, 5, 3, 1, 1, bias=False),
    _c("pointwise_1x1_groups2", 1, 4, 3, 5, 6, 1, 1, groups=2),
    _c("pointwise_1x1_stride2", 1, 4, 7, 6, 3, 1, 1, stride=2),
    _c("pointwise_1x1_pad1", 1, 3, 4, 4, 2, 1, 1, padding=1),
    # unbatched (C, H, W) input
    _c("unbatched", 1, 3, 6, 7, 4, 3, 3, padding=1, unbatched=True),
    _c("unbatched_groups_same_s2", 1, 4, 7, 6, 6, 3, 2, groups=2, stride=2,
       padding="same", unbatched=True),
    # big enough that im2col needs several column tiles (4096 output pixels
    # of 144 rows: > 2 MiB of float32 columns), and a long reduction (864
    # rows, 784 pixels) whose column tiles end in a partial tile
    _c("im2col_tiles_2x16x64x64_K24", 2, 16, 64, 64, 24, 3, 3, padding=1),
    _c("long_reduction_C96_3x3", 1, 96, 28, 28, 8, 3, 3, padding=1),
    # >= 128 output channels at stride 1 take the packed-column forward, whose
    # tiles run over the whole batch: 5 images of 5 x 5 = 25 pixels, so GEMM
    # micro-tiles (48 pixels on AVX-512) straddle two or three images; and
    # 14 x 14 images (196 pixels, not a multiple of any tile width)
    _c("batch_spanning_tiles_K128_5x5", 5, 2, 5, 5, 128, 3, 3, padding=1),
    _c("batch_spanning_tiles_K136_14x14", 3, 4, 14, 14, 136, 3, 3, padding=1),
    # >= 128 input channels: the stride-1 input gradient runs as that packed,
    # batch-spanning forward of the padded grad_output (5 x 5 images)
    _c("dgrad_as_spanning_forward_C128_5x5", 3, 128, 5, 5, 8, 3, 3, padding=1),
]

CASE_IDS = [c.id for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS)

# A subset of CASES kept small enough for the slower checks.
SMALL_CASES = [c for c in CASES if c.N * c.C * c.H * c.W <= 2000]


def case_arrays(case, dtype=np.float64, integer=False, seed_extra=""):
    """Deterministic (x, w, bias or None, grad_output) for ``case``.

    With ``integer=True`` all values are small integers (|x| <= 4, |w| <= 3,
    |gy| <= 3), so every product and partial sum is exact in float32 and
    every algorithm must reproduce the reference bit for bit.
    """
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{integer}/{seed_extra}".encode()))
    if integer:
        x = rng.integers(-4, 5, size=case.x_shape).astype(dtype)
        w = rng.integers(-3, 4, size=case.w_shape).astype(dtype)
        b = rng.integers(-5, 6, size=(case.K,)).astype(dtype)
        gy = rng.integers(-3, 4, size=case.y_shape).astype(dtype)
    else:
        x = rng.standard_normal(case.x_shape).astype(dtype)
        w = rng.standard_normal(case.w_shape).astype(dtype)
        b = rng.standard_normal(case.K).astype(dtype)
        gy = rng.standard_normal(case.y_shape).astype(dtype)
    return x, w, (b if case.bias else None), gy
