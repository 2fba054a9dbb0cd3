"""Channels-last (NHWC) convolutions computed natively (no transpose of the tensors).

The drivers are in src/cx_nhwc_impl.h (design notes at its top), the parallel
loop in src/_conv.pyx (``nhwc_fwd``, ``nhwc_wgrad``, ``nhwc_dgrad``). This
module only picks the input gradient's form and allocates the results.

Contract (the caller, convx._api, has validated everything): operands are
C-contiguous, aligned, native float32 or float64 of one dtype, every size > 0;
``geo`` is the :class:`convx._api.Geometry` of the same convolution in NCHW
terms. The weight keeps its (K, C/groups, R, S) layout. IEEE semantics are the
NCHW path's: forward and weight-gradient taps over the padding multiply
explicit zeros (0 * inf = NaN), the input gradient multiplies no padding.
"""

import numpy as np

from . import _conv, _memory


def _threads(threads):
    return _conv.max_threads() if threads is None else max(1, int(threads))


def nhwc_forward(x, w, bias, geo, threads):
    """y (N, P, Q, K) = conv2d(x (N, H, W, C), w (K, C/groups, R, S)) + bias."""
    y = _memory.empty((geo.N, geo.P, geo.Q, geo.K), x.dtype)
    b = bias.reshape(-1) if bias is not None else np.empty(0, x.dtype)
    # (the tiles may skip the zero padding's products where no 0 * inf is
    # lost: a finite weight)
    _conv.nhwc_fwd(x.reshape(-1), w.reshape(-1), b, y.reshape(-1), geo.astuple(),
                   bias is not None, _threads(threads), bool(np.isfinite(w).all()))
    return y


def nhwc_weight(x, gy, geo, threads):
    """dw (K, C/groups, R, S) = conv2d_weight(x (N, H, W, C), gy (N, P, Q, K))."""
    dw = np.empty((geo.K, geo.C // geo.groups, geo.R, geo.S), x.dtype)
    if not _conv.nhwc_wgrad(x.reshape(-1), gy.reshape(-1), dw.reshape(-1), geo.astuple(),
                            _threads(threads)):
        # (the tiles left out zero padding's products with a non-finite gy)
        from ._api import _padding_nan_weight
        _padding_nan_weight(dw, np.moveaxis(gy, 3, 1), geo)
    return dw


def _input_as_forward(w, geo):
    """Stride 1: the input gradient is the forward of the zero-padded gy with the
    flipped, transposed weight (padding (R-1)*dh - top, (S-1)*dw - left; no dcols
    tile, no col2im). Returns (geometry tuple, weight) or None when the GEMM +
    col2im form is used instead: strided, thin groups (2 to 7 input channels
    per group, which would be the forward's output channels: a mostly empty
    NR-wide tile; one input channel of one group runs the direct tiles, whose
    single-channel output is stored as NCHW), depthwise with a channel
    multiplier (its own gather loop; the forward would have groups of several
    input channels), or a non-finite
    weight (the forward would multiply the padding's zeros by it: 0 * inf = NaN
    where the reference multiplies nothing)."""
    N, C, H, W, K, R, S, P, Q, sh, sw, dh, dw, pt, pl, G = geo.astuple()
    Cg, Kg = C // G, K // G
    # (depthwise without a multiplier is a depthwise forward: its streamed
    # channel-vector loops beat the gather's 1.2-1.3x)
    if (sh, sw) != (1, 1) or (Cg < 8 and not (Cg == 1 and (G == 1 or Kg == 1))):
        return None
    if not np.isfinite(w).all():
        return None
    g2 = (N, K, P, Q, C, R, S, H, W, 1, 1, dh, dw, (R - 1) * dh - pt, (S - 1) * dw - pl, G)
    wt = w.reshape(G, Kg, Cg, R, S)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    return g2, np.ascontiguousarray(wt).reshape(-1)


def nhwc_input(w, gy, geo, threads):
    """dx (N, H, W, C) = conv2d_input(w (K, C/groups, R, S), gy (N, P, Q, K)); input
    pixels that no output reads are exactly 0."""
    dx = _memory.empty((geo.N, geo.H, geo.W, geo.C), gy.dtype)
    as_fwd = _input_as_forward(w, geo)
    if as_fwd is not None:
        g2, wt = as_fwd
        _conv.nhwc_fwd(gy.reshape(-1), wt, np.empty(0, gy.dtype), dx.reshape(-1), g2, False,
                       _threads(threads), True)     # (wt: finite, _input_as_forward)
    else:
        _conv.nhwc_dgrad(w.reshape(-1), gy.reshape(-1), dx.reshape(-1), geo.astuple(),
                         _threads(threads))
    return dx
