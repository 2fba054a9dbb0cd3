"""1-D and 3-D convolutions and transposed convolutions, on the 2-D kernels.

Every operation here validates its arguments in its own terms (names and
shapes of the 1-D or 3-D call) and then runs convx's 2-D kernels:

* **1-D** is 2-D with one row: ``(N, C, L)`` is viewed as ``(N, C, 1, L)`` and
  the weight ``(K, C/groups, S)`` as ``(K, C/groups, 1, S)``; no data moves.
* **3-D** folds the depth taps into the channels: the 2-D convolution of the
  batch ``X2[(n, od), c*T + t] = x[n, c, od*stride_d + t*dilation_d - pad_d]``
  (zero where that depth is padding), whose channels match the weight viewed as
  ``(K, C/groups*T, R, S)`` without a copy, is the 3-D one. Where that 2-D
  operation runs on the direct band kernels (channels first, zero padding),
  the 3-D forward and weight gradient run natively (``_native_3d``): the
  kernels read ``X2``'s channels from band slots, each input depth's band
  filled once per run of output depths and read by the T output depths that
  need it, with no ``X2`` and the result written in place. So does the
  forward on the stride-1 row-band GEMM ("im2col", stride 1 across rows and
  columns), whose items fill their bands from the input's depths. The
  stride-1 input gradient is such a forward on the flipped weight
  (``_input_as_forward``) wherever one runs natively.
  Elsewhere ``X2`` is gathered for a run of output depths and one 2-D call does
  the run: the weight gradient is the 2-D one on ``X2`` (runs summed in
  order), the input gradient the 2-D one folded back onto the depths it came
  from. ``X2`` is T times the slices it covers, so runs are sized to keep it
  under ``_FOLD_BYTES``.
* **Transposed** convolutions are input gradients (``conv_transpose(x, w) =
  conv_input(output_size, w, x)``); their own gradients are the forward
  (for the input) and the weight gradient (for the weight) of the same
  convolution, see :func:`conv_transpose2d`.
"""

from __future__ import annotations

import math

import numpy as np

from . import _api, _conv, _padmode
from ._api import _array, _check_size, _compute_dtype, _int, _shape_tuple

__all__ = ["conv1d", "conv1d_weight", "conv1d_input", "conv3d", "conv3d_weight",
           "conv3d_input", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

# Largest depth-folded batch (bytes) one 2-D call of a 3-D operation gathers.
_FOLD_BYTES = 64 * 2**20

_AXES = _api._AXIS_NAMES
_LAYOUT = {nd: (inp, _api._WEIGHT_FORMS[nd])
           for nd, inp in ((1, "(N, C, L)"), (2, "(N, C, H, W)"), (3, "(N, C, D, H, W)"))}


# --------------------------------------------------------------------------- arguments

def _tuple(name, value, nd, minimum):
    """An int or nd ints, each >= minimum, as a tuple of nd ints."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        if len(value) != nd:
            raise ValueError(f"{name} must be an int or {nd} ints (one per spatial "
                             f"dimension {', '.join(_AXES[nd])}), got {value!r}")
        return tuple(_int(name, v, minimum) for v in value)
    return (_int(name, value, minimum),) * nd


def _padding(padding, nd, sizes, kernel, stride, dilation):
    """Resolve padding to nd (lo, hi) pairs: "valid", "same", an int, or nd
    entries each an int or a (lo, hi) pair."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            return _api._padding("same", sizes, kernel, stride, dilation)
        raise ValueError(f"padding must be an int, {nd} entries, 'valid' or 'same', "
                         f"got {padding!r}")
    if isinstance(padding, np.ndarray):
        padding = padding.tolist()
    if isinstance(padding, (tuple, list)):
        if len(padding) != nd:
            form = "(lo, hi)" if nd == 1 else ", ".join(f"pad_{a[0]}" for a in _AXES[nd])
            raise ValueError(f"padding must be an int or {nd} entries (one per spatial "
                             f"dimension, each an int or a (lo, hi) pair), got {padding!r}"
                             + (f"; for asymmetric 1-D padding write (({form}),)"
                                if nd == 1 else ""))
        out = []
        for p in padding:
            if isinstance(p, (tuple, list, np.ndarray)):
                p = list(p)
                if len(p) != 2:
                    raise ValueError(f"padding entries must be ints or (lo, hi) pairs, "
                                     f"got {padding!r}")
                out.append((_int("padding", p[0], 0), _int("padding", p[1], 0)))
            else:
                v = _int("padding", p, 0)
                out.append((v, v))
        return tuple(out)
    v = _int("padding", padding, 0)
    return ((v, v),) * nd


class _Geo:
    """A validated N-d convolution (input (N, C, *sizes), weight (K, C/groups, *kernel))."""

    def __init__(self, nd, ishape, wshape, stride, padding, dilation, groups,
                 input_name="input", weight_name="weight", shown=None):
        self.nd = nd
        shown = tuple(ishape) if shown is None else tuple(shown)   # as the user gave it
        N, C, *sizes = ishape
        K, Cg, *kernel = wshape
        self.N, self.C, self.K, self.sizes, self.kernel = N, C, K, tuple(sizes), tuple(kernel)
        self.stride = _tuple("stride", stride, nd, 1)
        self.dilation = _tuple("dilation", dilation, nd, 1)
        self.groups = _int("groups", groups, 1)
        _api._check_channels(ishape, wshape, self.groups, input_name, weight_name, shown)
        self.padding = _padding(padding, nd, self.sizes, self.kernel, self.stride,
                                self.dilation)
        self.out = _api._output_sizes(ishape, wshape, self.stride, self.dilation, self.padding,
                                      isinstance(padding, str) and padding == "same",
                                      input_name, weight_name, shown)

    @property
    def input_shape(self):
        return (self.N, self.C) + self.sizes

    @property
    def output_shape(self):
        return (self.N, self.K) + self.out

    @property
    def weight_shape(self):
        return (self.K, self.C // self.groups) + self.kernel

    def padded(self):
        """The input shape with the padding made explicit."""
        return (self.N, self.C) + tuple(n + lo + hi for n, (lo, hi)
                                        in zip(self.sizes, self.padding))

    def check_mode(self, mode, name="input"):
        _padmode.check_pads(mode, self.sizes, self.padding, name, _AXES[self.nd])


def _input_array(name, a, nd, last=False):
    """Is a (an input of nd spatial dimensions) unbatched?"""
    if a.ndim not in (nd + 1, nd + 2):
        form = _LAYOUT[nd][0]
        if last:
            form = "(" + form[1:-1].replace("C, ", "") + ", C)"
        raise ValueError(f"{name} must be a {nd + 2}-D {form} array or a "
                         f"{nd + 1}-D unbatched one, got {a.ndim}-D shape {a.shape}")
    return a.ndim == nd + 1


def _weight_array(name, w, nd):
    if w.ndim != nd + 2:
        raise ValueError(f"{name} must be a {nd + 2}-D {_LAYOUT[nd][1]} array, got "
                         f"{w.ndim}-D shape {w.shape}")


def _check_out(out, shape, dtype):
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have the result's shape {shape}, got {out.shape}")
    if out.dtype.kind != "f" or out.dtype.newbyteorder("=") != dtype:
        raise ValueError(f"out must have the result's dtype {dtype}, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


_LAYOUT_NAMES = {1: ("NCL", "NLC"), 2: _api._LAYOUTS, 3: ("NCDHW", "NDHWC")}


def _first(shape, last):
    """A user shape in channels-first order: (N, *spatial, C) -> (N, C, *spatial)."""
    return (shape[0], shape[-1]) + tuple(shape[1:-1]) if last else tuple(shape)


def _user(shape, last):
    """A channels-first shape in the user's layout: (N, C, *spatial) -> (N, *spatial, C)."""
    return (shape[0],) + tuple(shape[2:]) + (shape[1],) if last else tuple(shape)


def _pairs2(geo):
    """The 2-D kernels' (stride, padding, dilation) for the last two axes of geo."""
    return geo.stride[-2:], geo.padding[-2:], geo.dilation[-2:]


def _as_2d(nd, ishape, wshape, stride, padding, dilation, groups, dtype):
    """The 2-D geometry of the (first) 2-D call that computes a 1-D or 3-D one
    (for explain)."""
    geo = _Geo(nd, ishape, wshape, stride, padding, dilation, groups,
               input_name="input_shape", weight_name="weight_shape")
    if nd == 1:
        return _api._geometry((geo.N, geo.C, 1, geo.sizes[0]), (geo.K, geo.C // geo.groups, 1,
                              geo.kernel[0]), (1,) + geo.stride, ((0, 0),) + geo.padding,
                              (1,) + geo.dilation, geo.groups)
    runs = _depth_runs(geo, dtype.itemsize)
    n = geo.N * (runs[0][1] - runs[0][0]) if runs else 0
    T = geo.kernel[0]
    st, pad, dil = _pairs2(geo)
    return _api._geometry((n, geo.C * T) + geo.sizes[1:], (geo.K, geo.C // geo.groups * T)
                          + geo.kernel[1:], st, pad, dil, geo.groups)


# --------------------------------------------------------------------------- 1-D

def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", layout="NCL", algorithm="auto", threads=None, out=None):
    """1-D convolution (cross-correlation, as ``torch.nn.functional.conv1d``).

    ``out[n, k, l] = bias[k] + sum_{c, s} weight[k, c, s] *
    input[n, g*C/groups + c, l*stride + s*dilation - pad_lo]``.

    Parameters
    ----------
    input : array_like, shape (N, C, L) or (C, L)
    weight : array_like, shape (K, C/groups, S)
    bias : array_like, shape (K,), optional
    stride, dilation : int or (int,), default 1
    padding : int, (int,), ((lo, hi),), "valid" or "same", default 0
        "same" follows TensorFlow's rule for every stride (see :func:`conv2d`).
    groups, padding_mode, algorithm, threads, out
        As in :func:`convx.conv2d`. ``layout`` ("NCL"/"NLC", "NCDHW"/"NDHWC") puts
        the channels first (default) or last in the input and the result.

    Returns
    -------
    ndarray, shape (N, K, L_out) (or (K, L_out))

    Notes
    -----
    Runs convx's 2-D kernels on the input viewed as one row per channel (no
    copy): every algorithm, thread count and dtype rule of :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np, convx
    >>> convx.conv1d(np.arange(6.0).reshape(1, 1, 6), np.ones((1, 1, 3)))
    array([[[ 3.,  6.,  9., 12.]]])
    """
    x = _array("input", input)
    w = _array("weight", weight)
    last = _api._channels_last(layout, _LAYOUT_NAMES[1])
    unbatched = _input_array("input", x, 1, last)
    _weight_array("weight", w, 1)
    xs = (1,) + x.shape if unbatched else x.shape
    geo = _Geo(1, _first(xs, last), w.shape, stride, padding, dilation, groups, shown=xs)
    mode = _padmode.check_mode(padding_mode)
    if mode != "zeros":
        geo.check_mode(mode)
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    o = None if out is None else _row(out, last)
    y = _api.conv2d(_row(x, last), w[:, :, None, :], bias, (1,) + geo.stride,
                    _pad2(padding, geo), (1,) + geo.dilation, groups,
                    padding_mode=padding_mode, layout="NHWC" if last else "NCHW",
                    algorithm=algorithm, threads=threads, out=o)
    return out if out is not None else _unrow(y, last)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1,
                  groups=1, *, padding_mode="zeros", layout="NCL", algorithm="auto",
                  threads=None):
    """Gradient of :func:`conv1d` with respect to its weight (``torch.nn.grad.conv1d_weight``).

    Parameters
    ----------
    input : array_like, shape (N, C, L) or (C, L)
    weight_size : tuple of 3 ints, (K, C/groups, S)
    grad_output : array_like, the forward output's shape
    stride, padding, dilation, groups, padding_mode, layout, algorithm, threads
        As in :func:`conv1d`.

    Returns
    -------
    ndarray, shape weight_size
    """
    x, gy, wsize, geo, last = _weight_args(1, input, weight_size, grad_output, stride,
                                           padding, dilation, groups, layout)
    mode = _padmode.check_mode(padding_mode)
    if mode != "zeros":
        geo.check_mode(mode)
    dw = _api.conv2d_weight(_row(x, last), wsize[:2] + (1,) + wsize[2:], _row(gy, last),
                            (1,) + geo.stride, _pad2(padding, geo), (1,) + geo.dilation,
                            groups, padding_mode=padding_mode,
                            layout="NHWC" if last else "NCHW", algorithm=algorithm,
                            threads=threads)
    return dw[:, :, 0, :]


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 *, padding_mode="zeros", layout="NCL", algorithm="auto", threads=None):
    """Gradient of :func:`conv1d` with respect to its input (``torch.nn.grad.conv1d_input``).

    Parameters
    ----------
    input_size : tuple of 3 (or 2) ints, (N, C, L) or (C, L)
        Any length whose forward output has grad_output's shape.
    weight : array_like, shape (K, C/groups, S)
    grad_output : array_like, the forward output's shape
    stride, padding, dilation, groups, padding_mode, layout, algorithm, threads
        As in :func:`conv1d`.

    Returns
    -------
    ndarray, shape input_size
    """
    isize, w, gy, geo, last = _input_args(1, input_size, weight, grad_output, stride,
                                          padding, dilation, groups, layout)
    mode = _padmode.check_mode(padding_mode)
    if mode != "zeros":
        geo.check_mode(mode, "input_size")
    size2 = isize[:-2] + (1,) + isize[-2:] if last else isize[:-1] + (1,) + isize[-1:]
    dx = _api.conv2d_input(size2, w[:, :, None, :], _row(gy, last),
                           (1,) + geo.stride, _pad2(padding, geo), (1,) + geo.dilation,
                           groups, padding_mode=padding_mode,
                           layout="NHWC" if last else "NCHW", algorithm=algorithm,
                           threads=threads)
    return _unrow(dx, last)


def _row(a, last):
    """A 1-D array as 2-D images of one row: (N, C, L) -> (N, C, 1, L), or
    (N, L, C) -> (N, 1, L, C) (a view)."""
    return a[..., None, :, :] if last else a[..., None, :]


def _unrow(a, last):
    return a[..., 0, :, :] if last else a[..., 0, :]


def _pad2(padding, geo):
    """A 1-D call's padding for the 2-D kernels ("same" kept: it allows empty rows)."""
    return padding if isinstance(padding, str) else ((0, 0),) + geo.padding


def _weight_args(nd, input, weight_size, grad_output, stride, padding, dilation, groups,
                 layout):
    """The validated arguments of a weight gradient: (input array, grad_output
    array, weight_size, geometry, channels last?)."""
    x = _array("input", input)
    gy = _array("grad_output", grad_output)
    last = _api._channels_last(layout, _LAYOUT_NAMES[nd])
    unbatched = _input_array("input", x, nd, last)
    wsize = _shape_tuple("weight_size", weight_size, (nd + 2,))
    xs = (1,) + x.shape if unbatched else x.shape
    geo = _Geo(nd, _first(xs, last), wsize, stride, padding, dilation, groups,
               weight_name="weight_size", shown=xs)
    _check_grad_output(gy, geo, unbatched, f"input shape {x.shape}, weight_size {wsize}",
                       last)
    return x, gy, wsize, geo, last


def _input_args(nd, input_size, weight, grad_output, stride, padding, dilation, groups,
                layout):
    """The validated arguments of an input gradient: (input_size, weight array,
    grad_output array, geometry, channels last?)."""
    isize = _shape_tuple("input_size", input_size, (nd + 1, nd + 2))
    w = _array("weight", weight)
    gy = _array("grad_output", grad_output)
    last = _api._channels_last(layout, _LAYOUT_NAMES[nd])
    _weight_array("weight", w, nd)
    unbatched = len(isize) == nd + 1
    xs = (1,) + isize if unbatched else isize
    geo = _Geo(nd, _first(xs, last), w.shape, stride, padding, dilation, groups,
               input_name="input_size", shown=xs)
    _check_grad_output(gy, geo, unbatched, f"input_size {isize}, weight shape {w.shape}",
                       last)
    return isize, w, gy, geo, last


def _check_grad_output(gy, geo, unbatched, context, last=False):
    expected = _user(geo.output_shape, last)
    expected = expected[1:] if unbatched else expected
    if gy.shape != expected:
        raise ValueError(f"grad_output must have the forward output's shape {expected} "
                         f"({context}), got {gy.shape}")


# --------------------------------------------------------------------------- 3-D

def _depth_runs(geo, itemsize):
    """Runs [od0, od1) of output depths whose folded batch fits in _FOLD_BYTES."""
    D_out = geo.out[0]
    per = geo.N * geo.C * geo.kernel[0] * geo.sizes[1] * geo.sizes[2] * itemsize
    step = max(1, min(D_out, _FOLD_BYTES // max(per, 1)))
    return [(o, min(o + step, D_out)) for o in range(0, D_out, step)]


def _tap_span(geo, t, od0, od1):
    """For depth tap t: the output depths [a, b) within [od0, od1) that read
    an input depth (not padding), and the first input depth they read."""
    D, sd, dd, lo = geo.sizes[0], geo.stride[0], geo.dilation[0], geo.padding[0][0]
    off = t * dd - lo                     # input depth = od * sd + off
    a = max(od0, -(-(-off) // sd) if off < 0 else 0)
    b = min(od1, (D - 1 - off) // sd + 1 if D - 1 - off >= 0 else 0)
    return a, max(a, b), a * sd + off


def _depth_major(a, last):
    """A view of a 5-D NCDHW array as (N, D, C, H, W); NDHWC arrays already are
    depth-major (N, D, H, W, C)."""
    return a if last else a.transpose(0, 2, 1, 3, 4)


def _tap(last, t):
    """Index of tap t in a folded 6-D array: (N, n, C, T, H, W) or (N, n, H, W, C, T)."""
    return (Ellipsis, t) if last else (slice(None), slice(None), slice(None), t)


def _fold(x, geo, od0, od1, dtype, last=False):
    """X2: the input slices output depths od0..od1-1 read, tap t of input
    channel c as channel c*T + t (zeros for padding), as a 2-D batch of
    N*(od1-od0) images, (C*T, H, W) each (NHWC: (H, W, C*T))."""
    N, C, T = geo.N, geo.C, geo.kernel[0]
    H, W = geo.sizes[1:]
    n = od1 - od0
    shape6 = (N, n, H, W, C, T) if last else (N, n, C, T, H, W)
    _check_size("the depth-folded input", shape6, dtype)
    X2 = np.empty(shape6, dtype)
    xv = _depth_major(x, last)
    for t in range(T):
        a, b, i0 = _tap_span(geo, t, od0, od1)
        tap = X2[_tap(last, t)]                   # (N, n, C, H, W) or (N, n, H, W, C)
        tap[:, :a - od0] = 0
        tap[:, b - od0:] = 0
        if b > a:
            tap[:, a - od0:b - od0] = xv[:, i0:i0 + (b - a - 1) * geo.stride[0] + 1:
                                         geo.stride[0]]
    return X2.reshape((N * n, H, W, C * T) if last else (N * n, C * T, H, W))


def _unfold_add(dx, dX2, geo, od0, od1, last=False):
    """dx (N, C, D, H, W) (NDHWC: (N, D, H, W, C)) += the depth-folded
    gradient dX2 of output depths od0..od1-1."""
    N, C, T = geo.N, geo.C, geo.kernel[0]
    H, W = geo.sizes[1:]
    n = od1 - od0
    d6 = dX2.reshape((N, n, H, W, C, T) if last else (N, n, C, T, H, W))
    dxv = _depth_major(dx, last)
    for t in range(T):
        a, b, i0 = _tap_span(geo, t, od0, od1)
        if b > a:
            dst = dxv[:, i0:i0 + (b - a - 1) * geo.stride[0] + 1:geo.stride[0]]
            dst += d6[_tap(last, t)][:, a - od0:b - od0]


def _unfold_output(gy, od0, od1, last=False):
    """grad_output's depths od0..od1-1 as a 2-D batch (N*(od1-od0), K, P, Q)
    (NHWC: (N*(od1-od0), P, Q, K))."""
    g = np.ascontiguousarray(_depth_major(gy, last)[:, od0:od1])
    return g.reshape((-1,) + g.shape[2:])


# The 3-D forward runs natively on the direct band kernels or the row-band
# GEMM where it can (_native_3d); False sends every call to the depth-folded 2-D form (tests
# compare the two).
_NATIVE_3D = True


def _native_3d(geo, algorithm, dtype, threads, op="fwd"):
    """(geometry, depth, algorithm, 2-D geometry object) for _conv.conv3d_fwd (op "fwd") or
    conv3d_wgrad ("wgrad") when a channels-first, zero-padded 3-D operation runs
    natively: the algorithm (or "auto"'s pick for the depth-folded 2-D operation
    of the whole batch) is "direct" and its band kernels apply, or, for the
    forward, "im2col" and its stride-1 row-band GEMM applies. Each item then
    reads x's depths directly (the band kernels fill each input depth's band
    once per run of output depths, cx_conv3d_depth; the GEMM's items fill the
    band of one output depth), with no folded copy of the input (or of
    grad_output) and the result written in place. None otherwise."""
    if not _NATIVE_3D or algorithm not in ("auto", "direct", "im2col"):
        return None
    K, Cg, T, R, S = geo.weight_shape
    D_out = geo.out[0]
    if geo.N * geo.C * T * math.prod(geo.sizes) == 0 or K == 0:
        return None
    st, pad, dil = _pairs2(geo)
    g2 = _api._geometry((geo.N * D_out, geo.C * T) + geo.sizes[1:], (K, Cg * T, R, S),
                        st, pad, dil, geo.groups)
    algo = _api._resolve_algorithm(algorithm, op, g2, dtype, threads)
    if algo not in (("direct", "im2col") if op == "fwd" else ("direct",)):
        return None
    depth = (geo.N, geo.sizes[0], D_out, T, geo.stride[0], geo.dilation[0],
             geo.padding[0][0])
    if _conv.conv3d_plan_info(g2.astuple(), depth, dtype, op, algo) is None:
        return None
    return g2.astuple(), depth, algo, g2


def _input_as_forward(geo, w, gy5, dtype, algorithm, threads):
    """The channels-first, zero-padded 3-D input gradient of stride 1 as the
    forward convolution of grad_output with the flipped, transposed weight
    (padding dilation*(size-1) - pad on each side of each axis), where that
    forward runs natively (_native_3d); None otherwise, and for non-finite
    weights (the forward would multiply its padding's zeros by them, 0 * inf =
    NaN, where the input gradient reads no padding)."""
    fgeo = _flipped(geo)
    if fgeo is None or _native_3d(fgeo, algorithm, dtype, threads) is None:
        return None
    wa = _api._prepare("weight", w, dtype)
    if not np.isfinite(wa).all():
        return None
    K, Cg, T, R, S = geo.weight_shape
    G = geo.groups
    Kg = K // G
    wt = wa.reshape(G, Kg, Cg, T, R, S)[:, :, :, ::-1, ::-1, ::-1].transpose(0, 2, 1, 3, 4, 5)
    wt = np.ascontiguousarray(wt).reshape(G * Cg, Kg, T, R, S)
    return conv3d(gy5, wt, None, 1, fgeo.padding, geo.dilation, G, algorithm=algorithm,
                  threads=threads)


def _flipped(geo):
    """The forward convolution whose result is geo's stride-1 input gradient
    (grad_output's shape in, the input's out, padding dilation*(size-1) - pad),
    or None (a stride, an empty input, or padding wider than the kernel)."""
    if any(s != 1 for s in geo.stride) or math.prod(geo.input_shape) == 0:
        return None
    pads = []
    for (lo, hi), k, dl in zip(geo.padding, geo.kernel, geo.dilation):
        a, b = dl * (k - 1) - lo, dl * (k - 1) - hi
        if a < 0 or b < 0:
            return None
        pads.append((a, b))
    K, Cg, T, R, S = geo.weight_shape
    return _Geo(3, (geo.N, K) + geo.out, (geo.C, K // geo.groups, T, R, S), 1, tuple(pads),
                geo.dilation, geo.groups)


_NATIVE_WORDS = {"direct": "on the direct band kernels, each input depth's band filled once "
                            "per run of output depths",
                 "im2col": "on the stride-1 row-band GEMM, each item's band read from the "
                           "input's depths (no depth-folded copy of the input)"}


def _native_explain(op, ins, ws, stride, padding, dilation, groups, algo, reason, dtype,
                    threads):
    """explain's (algorithm, reason, geometry) for a channels-first 3-D
    operation: the depth-folded 2-D operation's (algo, reason) and None, with a
    note where the call runs natively (_native_3d). The stride-1 input
    gradient runs as the forward of the flipped weight wherever that forward
    runs natively (finite weights): then it is that forward's pick, rule and
    2-D geometry."""
    if not math.prod(ins) or not math.prod(ws):
        return algo, reason, None
    geo = _Geo(3, ins, ws, stride, padding, dilation, groups, input_name="input_shape",
               weight_name="weight_shape")
    if op == "dgrad":
        fgeo = _flipped(geo)
        native = None if fgeo is None else _native_3d(fgeo, "auto", dtype, threads)
        if native is None:
            return algo, reason, None
        _, why = _api._auto_rule_checked("fwd", native[3], dtype, threads=threads)
        return native[2], (f"as the forward of the flipped weight (finite weights): {why()}; "
                           f"in 3-D (channels first) it runs natively "
                           f"{_NATIVE_WORDS[native[2]]}"), native[3]
    native = _native_3d(geo, algo, dtype, threads, op)
    if native is None:
        return algo, reason, None
    return (algo, f"{reason}; in 3-D (channels first) it runs natively {_NATIVE_WORDS[algo]}",
            None)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", layout="NCDHW", algorithm="auto", threads=None, out=None):
    """3-D convolution (cross-correlation, as ``torch.nn.functional.conv3d``).

    ``out[n, k, d, h, w] = bias[k] + sum_{c, t, r, s} weight[k, c, t, r, s] *
    input[n, g*C/groups + c, d*sd + t*dd - pad_d, h*sh + r*dh - pad_h, w*sw + s*dw - pad_w]``.

    Parameters
    ----------
    input : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    weight : array_like, shape (K, C/groups, T, R, S)
    bias : array_like, shape (K,), optional
    stride, dilation : int or 3 ints (depth, height, width), default 1
    padding : int, 3 entries (each an int or a (lo, hi) pair), "valid" or "same"
    groups, padding_mode, algorithm, threads, out
        As in :func:`convx.conv2d`. ``layout`` ("NCL"/"NLC", "NCDHW"/"NDHWC") puts
        the channels first (default) or last in the input and the result;
        ``algorithm`` chooses the 2-D kernels that run.

    Returns
    -------
    ndarray, shape (N, K, D_out, H_out, W_out) (or without N)

    Notes
    -----
    The depth taps are folded into the channels (module docstring). On the
    direct band kernels, or on im2col's stride-1 row-band GEMM (channels
    first, zero padding, "auto"'s pick or the one named), this runs natively,
    with no copy of the input; otherwise T input slices per output depth are
    copied, in runs of at most 64 MiB, for one 2-D convolution per run.
    Results are bitwise the same for any thread count.

    Examples
    --------
    >>> import numpy as np, convx
    >>> convx.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))).shape
    (1, 1, 2, 2, 2)
    """
    x = _array("input", input)
    w = _array("weight", weight)
    b = None if bias is None else _array("bias", bias)
    last = _api._channels_last(layout, _LAYOUT_NAMES[3])
    unbatched = _input_array("input", x, 3, last)
    _weight_array("weight", w, 3)
    xs = (1,) + x.shape if unbatched else x.shape
    geo = _Geo(3, _first(xs, last), w.shape, stride, padding, dilation, groups, shown=xs)
    if b is not None and b.shape != (geo.K,):
        raise ValueError(f"bias must have shape (K,) = ({geo.K},) to match weight shape "
                         f"{w.shape}, got shape {b.shape}")
    dtype = _compute_dtype(x.dtype, w.dtype, *(() if b is None else (b.dtype,)))
    mode = _padmode.check_mode(padding_mode)
    _api._algorithm(algorithm)
    threads = _api._threads(threads)
    shape = _user(geo.output_shape, last)
    shape = shape[1:] if unbatched else shape
    _check_out(out, shape, dtype)
    if mode != "zeros" and any(p != (0, 0) for p in geo.padding):
        geo.check_mode(mode)
        _check_size("the padded input", geo.padded(), dtype)
        xp = _padmode.pad(x, geo.padding, mode, dtype, channels_last=last)
        return conv3d(xp, w, b, stride, 0, dilation, groups, layout=layout,
                      algorithm=algorithm, threads=threads, out=out)
    _check_size("output", shape, dtype)
    x5 = x.reshape(xs)
    target = out
    if out is not None and any(np.may_share_memory(out, a) for a in (x, w)
                               + (() if b is None else (b,))):
        target = None            # computed aside, then copied over the inputs
    y = target if target is not None else np.empty(shape, dtype)
    yv = _depth_major(y.reshape(_user(geo.output_shape, last)), last)
    K, Cg, T, R, S = geo.weight_shape
    w2 = w.reshape(K, Cg * T, R, S)
    st, pad, dil = _pairs2(geo)
    native = None if last or not math.prod(shape) else _native_3d(geo, algorithm, dtype, threads)
    if native is not None:
        yd = y if (y.flags.c_contiguous and y.dtype == dtype) else np.empty(shape, dtype)
        bc = (np.empty(0, dtype) if b is None else _api._prepare("bias", b, dtype))
        wc = _api._prepare("weight", w, dtype)
        # (the tiles may skip the zero padding's products where no 0 * inf is
        # lost: a finite weight)
        _conv.conv3d_fwd(_api._prepare("input", x5, dtype).reshape(-1),
                         wc.reshape(-1), bc.reshape(-1),
                         yd.reshape(-1), native[0], native[1], b is not None, threads,
                         native[2], bool(np.isfinite(wc).all()))
        if yd is not y:
            y[...] = yd
    elif math.prod(shape):
        for od0, od1 in _depth_runs(geo, dtype.itemsize):
            y2 = _api.conv2d(_fold(x5, geo, od0, od1, dtype, last), w2, b, st, pad, dil,
                             geo.groups, layout="NHWC" if last else "NCHW",
                             algorithm=algorithm, threads=threads)
            yv[:, od0:od1] = y2.reshape((geo.N, od1 - od0) + y2.shape[1:])
    if out is not None and target is None:
        out[...] = y
        return out
    return y


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1,
                  groups=1, *, padding_mode="zeros", layout="NCDHW", algorithm="auto",
                  threads=None):
    """Gradient of :func:`conv3d` with respect to its weight (``torch.nn.grad.conv3d_weight``).

    Parameters
    ----------
    input : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    weight_size : tuple of 5 ints, (K, C/groups, T, R, S)
    grad_output : array_like, the forward output's shape
    stride, padding, dilation, groups, padding_mode, layout, algorithm, threads
        As in :func:`conv3d`. Runs of output depths are summed in a fixed
        order: bitwise the same for any thread count.

    Returns
    -------
    ndarray, shape weight_size
    """
    x, gy, wsize, geo, last = _weight_args(3, input, weight_size, grad_output, stride,
                                           padding, dilation, groups, layout)
    xs = x.shape if x.ndim == 5 else (1,) + x.shape
    dtype = _compute_dtype(x.dtype, gy.dtype)
    mode = _padmode.check_mode(padding_mode)
    _api._algorithm(algorithm)
    threads = _api._threads(threads)
    if mode != "zeros" and any(p != (0, 0) for p in geo.padding):
        geo.check_mode(mode)
        _check_size("the padded input", geo.padded(), dtype)
        xp = _padmode.pad(x, geo.padding, mode, dtype, channels_last=last)
        return conv3d_weight(xp, wsize, gy, stride, 0, dilation, groups, layout=layout,
                             algorithm=algorithm, threads=threads)
    _check_size("weight gradient", wsize, dtype)
    K, Cg, T, R, S = wsize
    st, pad, dil = _pairs2(geo)
    x5 = x.reshape(xs)
    g5 = gy.reshape(_user(geo.output_shape, last))
    native = None
    if not last and math.prod(geo.output_shape) and math.prod(wsize):
        native = _native_3d(geo, algorithm, dtype, threads, "wgrad")
    if native is not None:
        dw = np.empty(wsize, dtype)
        _conv.conv3d_wgrad(_api._prepare("input", x5, dtype).reshape(-1),
                           _api._prepare("grad_output", g5, dtype).reshape(-1),
                           dw.reshape(-1), native[0], native[1], threads)
        return dw
    dw = None
    if math.prod(geo.output_shape) and math.prod(wsize):
        for od0, od1 in _depth_runs(geo, dtype.itemsize):
            part = _api.conv2d_weight(_fold(x5, geo, od0, od1, dtype, last), (K, Cg * T, R, S),
                                      _unfold_output(g5, od0, od1, last), st, pad, dil,
                                      geo.groups, layout="NHWC" if last else "NCHW",
                                      algorithm=algorithm, threads=threads)
            if dw is None:
                dw = part
            else:
                dw += part
    if dw is None:
        return np.zeros(wsize, dtype)     # an empty sum
    return dw.reshape(wsize)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 *, padding_mode="zeros", layout="NCDHW", algorithm="auto", threads=None):
    """Gradient of :func:`conv3d` with respect to its input (``torch.nn.grad.conv3d_input``).

    Parameters
    ----------
    input_size : tuple of 5 (or 4) ints, (N, C, D, H, W) or (C, D, H, W)
        Any size whose forward output has grad_output's shape.
    weight : array_like, shape (K, C/groups, T, R, S)
    grad_output : array_like, the forward output's shape
    stride, padding, dilation, groups, padding_mode, layout, algorithm, threads
        As in :func:`conv3d`.

    Returns
    -------
    ndarray, shape input_size
        Input pixels that no output reads get exactly 0.
    """
    isize, w, gy, geo, last = _input_args(3, input_size, weight, grad_output, stride,
                                          padding, dilation, groups, layout)
    unbatched = len(isize) == 4
    xs = (1,) + isize if unbatched else isize
    dtype = _compute_dtype(w.dtype, gy.dtype)
    mode = _padmode.check_mode(padding_mode)
    _api._algorithm(algorithm)
    threads = _api._threads(threads)
    if mode != "zeros" and any(p != (0, 0) for p in geo.padding):
        geo.check_mode(mode, "input_size")
        _check_size("the padded input gradient", geo.padded(), dtype)
        padded = _user(geo.padded(), last)
        dxp = conv3d_input(padded[1:] if unbatched else padded, w, gy, stride, 0, dilation,
                           groups, layout=layout, algorithm=algorithm, threads=threads)
        return _padmode.fold(dxp, geo.padding, mode, channels_last=last)
    _check_size("input gradient", isize, dtype)
    g5 = gy.reshape(_user(geo.output_shape, last))
    if not last:
        dx = _input_as_forward(geo, w, g5, dtype, algorithm, threads)
        if dx is not None:
            return dx.reshape(isize)
    dx = np.zeros(xs, dtype)
    K, Cg, T, R, S = geo.weight_shape
    w2 = w.reshape(K, Cg * T, R, S)
    st, pad, dil = _pairs2(geo)
    H, W = geo.sizes[1:]
    if math.prod(geo.output_shape) and dx.size:
        for od0, od1 in _depth_runs(geo, dtype.itemsize):
            n2 = geo.N * (od1 - od0)
            dX2 = _api.conv2d_input((n2, H, W, geo.C * T) if last else (n2, geo.C * T, H, W),
                                    w2, _unfold_output(g5, od0, od1, last), st, pad, dil,
                                    geo.groups, layout="NHWC" if last else "NCHW",
                                    algorithm=algorithm, threads=threads)
            _unfold_add(dx, dX2, geo, od0, od1, last)
    return dx.reshape(isize)


# --------------------------------------------------------------------------- transposed

def _conv_transpose(nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation, output_size, layout, algorithm, threads):
    x = _array("input", input)
    w = _array("weight", weight)
    b = None if bias is None else _array("bias", bias)
    last = _api._channels_last(layout, _LAYOUT_NAMES[nd])
    unbatched = _input_array("input", x, nd, last)
    if w.ndim != nd + 2:
        raise ValueError(f"weight must be a {nd + 2}-D (C_in, C_out/groups, "
                         f"{', '.join('k' + a[0].upper() for a in _AXES[nd])}) array, got {w.ndim}-D "
                         f"shape {w.shape}")
    xs = (1,) + x.shape if unbatched else x.shape
    N, Cin, *sizes = _first(xs, last)
    groups = _int("groups", groups, 1)
    stride = _tuple("stride", stride, nd, 1)
    dilation = _tuple("dilation", dilation, nd, 1)
    if isinstance(padding, str):
        raise ValueError(f"padding must be an int or {nd} ints for a transposed "
                         f"convolution, got {padding!r}")
    pad = _tuple("padding", padding, nd, 0)
    opad = _tuple("output_padding", output_padding, nd, 0)
    if w.shape[0] != Cin:
        raise ValueError(f"weight must have C_in = {Cin} rows (input has {Cin} channels, "
                         f"shape {x.shape}), got weight shape {w.shape}")
    if Cin % groups:
        raise ValueError(f"groups={groups} must divide the input channels C_in={Cin} "
                         f"(input shape {x.shape})")
    Cout = w.shape[1] * groups
    kernel = w.shape[2:]
    if any(k == 0 for k in kernel):
        raise ValueError(f"weight has a zero-sized kernel: shape {w.shape}")
    if any(n == 0 for n in sizes):
        raise ValueError(f"a transposed convolution needs at least one input pixel along "
                         f"every spatial dimension, got input shape {x.shape}")
    lows = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1
                 for n, s, p, d, k in zip(sizes, stride, pad, dilation, kernel))
    if output_size is not None:
        if output_padding != 0 and any(opad):
            raise ValueError("give output_size or output_padding, not both")
        osz = _shape_tuple("output_size", output_size, (nd, nd + 1, nd + 2))[-nd:]
        for axis, o, lo, s in zip(_AXES[nd], osz, lows, stride):
            if not lo <= o <= lo + s - 1:
                raise ValueError(f"output_size {tuple(osz)}: the output {axis} must be in "
                                 f"[{lo}, {lo + s - 1}] for input shape {x.shape}, weight "
                                 f"shape {w.shape}, stride {stride}, padding {pad}, "
                                 f"dilation {dilation}; got {o}")
        extra = tuple(o - lo for o, lo in zip(osz, lows))
    else:
        for axis, e, s, d in zip(_AXES[nd], opad, stride, dilation):
            if e >= max(s, d):
                raise ValueError(f"output_padding must be smaller than stride or dilation "
                                 f"along each dimension, got output_padding {opad}, stride "
                                 f"{stride}, dilation {dilation}")
        extra = opad
    outs = tuple(lo + e for lo, e in zip(lows, extra))
    for axis, o in zip(_AXES[nd], outs):
        if o < 0:
            raise ValueError(f"padding {pad} is too large: the output {axis} would be {o} "
                             f"(input shape {x.shape}, weight shape {w.shape})")
    dtype = _compute_dtype(x.dtype, w.dtype, *(() if b is None else (b.dtype,)))
    if b is not None and b.shape != (Cout,):
        raise ValueError(f"bias must have shape (C_out,) = ({Cout},) for weight shape "
                         f"{w.shape} and groups={groups}, got shape {b.shape}")
    grad_input = {1: conv1d_input, 2: _api.conv2d_input, 3: conv3d_input}[nd]
    wc = w if w.dtype == dtype else w.astype(dtype)
    kw = dict(algorithm=algorithm, threads=threads, layout=layout)
    if all(e < s for e, s in zip(extra, stride)):
        y = grad_input(_user((N, Cout) + outs, last), wc, x.reshape(xs), stride,
                       tuple(zip(pad, pad)), dilation, groups, **kw)
    else:
        # output_padding >= stride (only with dilation > stride): the rows past
        # the last one any input pixel reaches are zeros; compute the full
        # transposed output and cut the padding off
        full = tuple((n - 1) * s + d * (k - 1) + 1
                     for n, s, d, k in zip(sizes, stride, dilation, kernel))
        yf = grad_input(_user((N, Cout) + full, last), wc, x.reshape(xs), stride, 0,
                        dilation, groups, **kw)
        y = np.zeros(_user((N, Cout) + outs, last), yf.dtype)
        src = tuple(slice(p, min(p + o, f)) for p, o, f in zip(pad, outs, full))
        dst = tuple(slice(0, sl.stop - sl.start) for sl in src)
        if last:
            y[(slice(None),) + dst] = yf[(slice(None),) + src]
        else:
            y[(slice(None), slice(None)) + dst] = yf[(slice(None), slice(None)) + src]
    if b is not None:
        bb = b.astype(dtype, copy=False)
        y += bb if last else bb.reshape((-1,) + (1,) * nd)
    return y[0] if unbatched else y


_TRANSPOSE_DOC = """Transposed {nd}-D convolution (``torch.nn.functional.conv_transpose{nd}d``).

    The adjoint of :func:`{fwd}` with the same weight: ``conv_transpose{nd}d(x, w, ...)``
    equals ``{inp}(output_size, w, x, ...)``, computed by convx's input-gradient
    kernels. Its gradients are convx's other two operations of the same
    convolution: with respect to ``input``, ``{fwd}(grad_output, weight, None,
    stride, padding, dilation, groups)``; with respect to ``weight``,
    ``{wgt}(grad_output, weight.shape, input, stride, padding, dilation, groups)``.

    Parameters
    ----------
    input : array_like, shape (N, C_in, {dims}) or without N
    weight : array_like, shape (C_in, C_out/groups, {kdims})
    bias : array_like, shape (C_out,), optional
    stride, padding, dilation : int or {nd} ints
        Those of the convolution this one transposes (padding removes that
        many pixels from each side of the full output).
    output_padding : int or {nd} ints, default 0
        Pixels added to one side of the output; each must be smaller than the
        stride or the dilation along its dimension.
    groups : int, default 1
    output_size : tuple of ints, optional
        The output's spatial size (N and C may lead, as in PyTorch), instead
        of output_padding: any size in the legal range [lo, lo + stride - 1]
        per dimension, else a ValueError that states the range.
    layout : channels first (default) or last, {layouts}
        Axis order of ``input`` and of the result (the weight keeps its shape).
    algorithm, threads
        As in :func:`convx.conv2d`.

    Returns
    -------
    ndarray, shape (N, C_out, {outdims}) (or without N)
    """


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None, layout="NCL",
                     algorithm="auto", threads=None):
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, output_size, layout, algorithm, threads)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None, layout="NCHW",
                     algorithm="auto", threads=None):
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, output_size, layout, algorithm, threads)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, *, output_size=None, layout="NCDHW",
                     algorithm="auto", threads=None):
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, output_size, layout, algorithm, threads)


for _nd_, _f in ((1, conv_transpose1d), (2, conv_transpose2d), (3, conv_transpose3d)):
    _names = {1: ("conv1d", "conv1d_input", "conv1d_weight", "L", "kL", "L_out"),
              2: ("convx.conv2d", "convx.conv2d_input", "convx.conv2d_weight", "H, W",
                  "kH, kW", "H_out, W_out"),
              3: ("conv3d", "conv3d_input", "conv3d_weight", "D, H, W", "kD, kH, kW",
                  "D_out, H_out, W_out")}[_nd_]
    _f.__doc__ = _TRANSPOSE_DOC.format(nd=_nd_, fwd=_names[0], inp=_names[1], wgt=_names[2],
                                       dims=_names[3], kdims=_names[4], outdims=_names[5],
                                       layouts=' or '.join(f'"{n}"' for n in
                                                           _LAYOUT_NAMES[_nd_]))
del _nd_, _f, _names
