"""The FFT algorithm: stride-1 convolutions and their gradients through spectra.

convx's convolution is a cross-correlation, ``y[p] = sum_u w[u] * x[p + u - top]``
along each spatial axis (u = r * dilation runs over the kernel's taps, ``top``
is the padding in front). With ``X``, ``W`` the discrete Fourier transforms of
x and of the kernel placed in buffers of F points, the circular
cross-correlation of the buffers is ``ifft(X * conj(W))`` (conjugating the
spectrum of a real kernel is transforming it flipped), and it equals the
convolution wherever no term wraps around. The weight gradient is the
circular cross-correlation of x with grad_output, ``ifft(conj(GY) * X)``
summed over images, read at the kernel's taps; the input gradient is the
adjoint of the forward, ``ifft(GY * W)`` (a convolution). Channels mix in the
frequency domain, per group and frequency a small complex matrix product
(``Y[f] = X[f] @ conj(W[f])`` over (images, C/groups) x (C/groups, K/groups)),
done by one batched ``numpy.matmul`` (or a broadcast product when one of the
three sizes is 1).

Each spatial axis is planned on its own (``_Axis``), in one of two ways:

* **one tile**: x goes in a buffer of F >= max(n + max(min(top, span - 1),
  min(bottom, span - 1)), span) points (n the input size, span the dilated kernel
  size) and the kernel's taps at ``(u - a) mod F`` with
  a = min(top, span - 1). Outputs that only see padding are exactly 0 and are
  not computed; the others come out contiguous from buffer index 0, and the
  wrapped-around terms only ever meet zeros. This is shorter than the
  ``n + span - 1`` points of a linear convolution whenever the padding is
  smaller than the kernel ("same", "valid").
* **overlap-save tiles**: along an axis much longer than the kernel, the
  outputs are cut into tiles of T = F - span + 1 and each tile reads its own
  window of F inputs (the tiles' windows overlap by span - 1); the tiles are a
  batch of short transforms. Per output that costs about
  ``F log F / T`` instead of ``log(n)``, keeps the transforms in cache, lets
  ``workers`` split the batch, and the kernel's spectrum has only F points.
  The input gradient, the adjoint, adds the windows back (overlap-add), and
  the weight gradient sums every tile's cross-correlation.

``_plan`` picks, per geometry, the combination of the two with the lowest
modelled time (``_model_ns``: per transformed point, counted
1 + log2(Fh*Fw)/16 times, a memory term for planes beyond 8 MB, the
matmul-layout copies and the channel mix, fitted to measured times). FFT
lengths are 5-smooth (``scipy.fft.next_fast_len`` or ``_smooth_at_least``,
which agree). The kernel's spectrum is a pruned transform: the last-axis rfft
runs on its R nonzero rows only, placed at their (dilated) rows before the
first-axis FFT; the inverse transforms run the last-axis irfft only on the
rows that are kept, and the weight gradient only on the kernel's R rows.

Transforms come from ``scipy.fft`` when it is importable (``workers`` = threads
on batches of 2**17 points or more), else from ``numpy.fft``. float32 runs in
single precision (complex64 spectra) where the library keeps it (scipy, numpy
>= 2; older numpy computes in double and the result is rounded to float32).
The error is the FFT's: about eps * log2(Fh*Fw) times the largest output
magnitude, spread over all outputs (an output much smaller than its
neighbours gets a larger relative error than a direct sum would give).
Outputs that see only padding, and inputs that no output reads (input
gradient), are exactly 0. Images are processed in chunks so that the spectra
in flight stay near ``_CHUNK_BYTES`` (plus the weight's spectrum); the
footprint is checked with ``_api._too_big`` before the first allocation.

``fft_preferred`` is algorithm="auto"'s rule: FFT when the cost model says it
is ``_MARGIN`` (1.7x) faster than the direct kernels modelled as flops / a
measured rate (``_DIRECT_GFLOPS``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

try:
    import scipy.fft as _scipy_fft
except ImportError:     # scipy is optional: numpy.fft does the transforms then
    _scipy_fft = None

__all__ = ["fft_forward", "fft_weight", "fft_input", "fft_unsupported", "fft_preferred"]

# Spectra of one chunk of images (input side, output side and the copies the
# channel mix makes) are kept near this size; the weight's spectrum comes on top.
_CHUNK_BYTES = 64 * 2**20
# A transform batch below this many points runs on one worker: scipy's thread
# start-up costs more than it saves there.
_PARALLEL_POINTS = 2**17


# --------------------------------------------------------------------------- transforms

def _backend_keeps_single():
    """Does the active FFT library return complex64 for float32 input?"""
    if _scipy_fft is not None:
        return True
    return np.fft.rfft(np.zeros(2, np.float32)).dtype == np.complex64


def _complex_dtype(dtype):
    """The spectra's dtype for real inputs of dtype (complex128 where numpy.fft widens)."""
    if np.dtype(dtype) == np.float32 and _backend_keeps_single():
        return np.dtype(np.complex64)
    return np.dtype(np.complex128)


def _rfft(a, n, axis, workers):
    """rfft of a along axis, zero-padded to n points."""
    if _scipy_fft is not None:
        return _scipy_fft.rfft(a, n=n, axis=axis, workers=workers)
    return np.fft.rfft(a, n=n, axis=axis)


def _irfft(a, n, axis, workers):
    """Inverse of _rfft: n real points along axis (scaled by 1/n)."""
    if _scipy_fft is not None:
        return _scipy_fft.irfft(a, n=n, axis=axis, workers=workers, overwrite_x=True)
    return np.fft.irfft(a, n=n, axis=axis)


def _cfft(a, n, axis, workers, inverse=False):
    """Complex FFT (or inverse, scaled by 1/n) of a along axis, zero-padded to n points."""
    if _scipy_fft is not None:
        f = _scipy_fft.ifft if inverse else _scipy_fft.fft
        return f(a, n=n, axis=axis, workers=workers, overwrite_x=True)
    return (np.fft.ifft if inverse else np.fft.fft)(a, n=n, axis=axis)


def _workers(threads, points):
    """scipy workers for a batch of transforms of ``points`` points in all."""
    return threads if points >= _PARALLEL_POINTS else 1


def _smooth_at_least(n):
    """The smallest 2^i 3^j 5^k >= n (there is a power of two below 2n)."""
    n = max(n, 1)
    return _smooth_between(n, 2 * n)[0]


def _fast_len(n):
    """A fast FFT length >= n (5-smooth: scipy's next_fast_len or _smooth_at_least)."""
    if _scipy_fft is not None:
        return _scipy_fft.next_fast_len(n, real=True)
    return _smooth_at_least(n)


@functools.lru_cache(maxsize=64)
def _smooth_between(lo, hi):
    """All 5-smooth numbers in [lo, hi), ascending."""
    out = []
    p5 = 1
    while p5 < hi:
        p35 = p5
        while p35 < hi:
            m = p35
            while m < hi:
                if m >= lo:
                    out.append(m)
                m *= 2
            p35 *= 3
        p5 *= 5
    return tuple(sorted(out))


# --------------------------------------------------------------------------- plan

@dataclass(frozen=True)
class _Axis:
    """How one spatial axis is transformed (see the module docstring).

    Outputs [first, first + count) are computed (the rest see only padding
    and are 0), ``tiles`` tiles of ``T`` outputs each. The input side of tile
    t is the window [t*T, t*T + L) of the input with ``lo`` zeros in front
    (L = n, the whole input, when tiles == 1; L = F otherwise). Kernel tap u
    sits at buffer index (u - shift) mod F.
    """

    n: int          # input size
    out: int        # output size
    span: int       # dilated kernel size (taps - 1) * step + 1
    taps: int
    step: int       # dilation
    first: int
    count: int
    F: int
    T: int
    tiles: int
    lo: int
    shift: int

    @property
    def L(self):
        """Window length on the input side."""
        return self.n if self.tiles == 1 else self.F

    @property
    def points(self):
        """Transform points along this axis, all tiles together."""
        return self.tiles * self.F

    def unread(self):
        """Input indices that no output reads (gaps of a dilated kernel), as a mask."""
        top = self.first + self.lo + self.shift      # one of lo, shift is 0
        start = np.clip(np.arange(self.taps) * self.step - top, 0, self.n)
        stop = np.clip(np.arange(self.taps) * self.step - top + self.out, 0, self.n)
        cover = np.zeros(self.n + 1, np.intp)
        np.add.at(cover, start, 1)
        np.add.at(cover, stop, -1)
        return np.cumsum(cover[:-1]) == 0

    def tap_index(self):
        """Buffer index of each kernel tap: (r * step - shift) mod F."""
        return (np.arange(self.taps) * self.step - self.shift) % self.F


def _axis_options(n, taps, step, top, bottom, out):
    """The ways to transform one axis: one tile, then the overlap-save tilings
    that no shorter F beats on points (the cost grows with points and log F)."""
    span = (taps - 1) * step + 1
    a = min(top, span - 1)
    first = top - a
    count = min(out, top + n) - first
    F1 = _fast_len(max(n + max(a, min(bottom, span - 1)), span))
    options = [_Axis(n, out, span, taps, step, first, count, F1, count, 1, 0, a)]
    if span < 2:
        return options
    best_points = math.inf
    for F in _smooth_between(max(2 * span - 1, 8), F1):
        T = F - span + 1
        tiles = -(-count // T)
        if tiles >= 2 and tiles * F < best_points:
            best_points = tiles * F
            options.append(_Axis(n, out, span, taps, step, first, count, F, T, tiles, a, 0))
    return options


# The FFT algorithm's modelled time: ns on one core of the developers' VM
# (float32, scipy), a sum of terms (_features) with one set of coefficients
# per op, fitted (least squares on relative error) to each op's time on 20
# shapes x up to 7 plans each (bench/README.md, "FFT algorithm"). The fits
# are within -50% / +40% of the measured times, 80% of them within -30% / +20%.
#   fixed: per call
#   point: per point of every transformed plane (x side, y side), counted
#          (1 + log2(Fh*Fw) / 16) times, and half a point of the kernel's
#   big:   per point again where one plane's spectrum exceeds 8 MB (the
#          first-axis FFT then streams from memory)
#   copy:  per point of the spectra copied into matmul layout (C/groups and
#          K/groups both > 1)
#   mix:   per complex multiply-add of the channel mix
_COST_TERMS = ("fixed", "point", "big", "copy", "mix")
_COST = {
    "fwd": (39e3, 0.97, 1.47, 1.16, 0.26),
    "wgrad": (55e3, 1.11, 1.84, 0.94, 0.14),
    "dgrad": (94e3, 1.14, 2.21, 0.62, 0.39),
}


def _features(geo, h, w):
    """The terms of the cost model (_COST_TERMS) for the plan (h, w)."""
    G = geo.groups
    Cg, Kg = geo.C // G, geo.K // G
    per_plane = h.points * w.points
    data = geo.N * (geo.C + geo.K) * per_plane
    logf = math.log2(max(h.F * w.F, 2)) / 16
    kernel = geo.K * Cg * (h.F * w.F * (1 + math.log2(max(h.F, 2)) / 16)
                           + geo.R * w.F * (1 + math.log2(max(w.F, 2)) / 16))
    return (1.0,
            data * (1 + logf) + kernel / 2,
            data if per_plane * 8 > 2**23 else 0.0,
            data + geo.K * Cg * h.F * w.F if Cg > 1 and Kg > 1 else 0.0,
            geo.N * Cg * Kg * G * per_plane / 2)


def _model_ns(geo, h, w, op="fwd"):
    """Modelled time (ns, one thread) of op on the plan (h, w) (see _COST)."""
    return sum(c * f for c, f in zip(_COST[op], _features(geo, h, w)))


def _options(geo):
    """(options for H, options for W): see _axis_options."""
    (top, bottom), (left, right) = geo.padding
    return (_axis_options(geo.H, geo.R, geo.dilation[0], top, bottom, geo.P),
            _axis_options(geo.W, geo.S, geo.dilation[1], left, right, geo.Q))


@functools.lru_cache(maxsize=256)
def _plan_cached(geo, scipy_present):
    hs, ws = _options(geo)
    best = None
    for h in hs:
        for w in ws:
            cost = _model_ns(geo, h, w)
            if best is None or cost < best[0]:
                best = (cost, h, w)
    return best


def _plan(geo):
    """(modelled ns, _Axis for H, _Axis for W) with the lowest modelled cost."""
    return _plan_cached(geo, _scipy_fft is not None)


# --------------------------------------------------------------------------- pieces

def _spectrum(a, h, w, workers):
    """2-D real spectrum of a (..., Lh, Lw), zero-padded to (h.F, w.F): rfft along the
    last axis on the rows present, then the FFT along the first."""
    s = _rfft(a, w.F, -1, workers)
    if h.F > 1:
        s = _cfft(s, h.F, -2, workers)
    return s


def _inverse(s, h, w, rows, cols, workers):
    """Real inverse of the half spectrum s (..., h.F, w.F//2+1), keeping only
    ``rows`` and ``cols`` (slices or index arrays): first-axis inverse FFT,
    the rows kept, then the last-axis irfft on them."""
    if h.F > 1:
        s = _cfft(s, h.F, -2, workers, inverse=True)
    s = s[..., rows, :]
    return _irfft(s, w.F, -1, workers)[..., cols]


def _kernel_spectrum(w4, h, w, workers):
    """Spectrum (K, Cg, h.F, w.F//2+1) of the kernel with tap (r, s) at buffer
    ((r*dh - h.shift) mod Fh, (s*dw - w.shift) mod Fw): pruned, the last-axis
    rfft runs on the R kernel rows only."""
    K, Cg, R, S = w4.shape
    rows = np.zeros((K, Cg, R, w.F), w4.dtype)
    rows[..., w.tap_index()] = w4
    rs = _rfft(rows, w.F, -1, workers)
    if h.F == 1:
        return rs
    full = np.zeros((K, Cg, h.F, rs.shape[-1]), rs.dtype)
    full[:, :, h.tap_index(), :] = rs
    return _cfft(full, h.F, -2, workers)


def _windows(x, h, w):
    """Input-side windows (b, th, tw, C, Lh, Lw) of x (b, C, H, W): window (i, j)
    is rows [i*Th, i*Th + Lh) and columns [j*Tw, j*Tw + Lw) of x with h.lo / w.lo
    zeros in front (and zeros behind). A view (of x itself when both axes have
    one tile, else of one zero-padded copy): the transforms read it in place."""
    b, C = x.shape[:2]
    if h.tiles == 1 and w.tiles == 1:
        return x[:, None, None]
    Hv = h.n if h.tiles == 1 else (h.tiles - 1) * h.T + h.F
    Wv = w.n if w.tiles == 1 else (w.tiles - 1) * w.T + w.F
    xv = np.zeros((b, C, Hv, Wv), x.dtype)
    xv[:, :, h.lo:h.lo + h.n, w.lo:w.lo + w.n] = x
    sb, sc, sh, sw = xv.strides
    return np.lib.stride_tricks.as_strided(
        xv, (b, h.tiles, w.tiles, C, h.L, w.L), (sb, h.T * sh, w.T * sw, sc, sh, sw),
        writeable=False)


def _fold(z, ax, T):
    """Overlap-add along one axis: z has tiles on axis ax and windows of L
    (T < L <= 2T) points on ax + 1; the result has (tiles + 1) * T points on
    ax (tile t's window starts at t*T), each the sum of the windows covering it."""
    nt, L = z.shape[ax], z.shape[ax + 1]
    lead = (slice(None),) * ax
    out = np.empty(z.shape[:ax] + (nt + 1, T) + z.shape[ax + 2:], z.dtype)
    out[lead + (slice(0, nt), slice(0, T))] = z[lead + (slice(None), slice(0, T))]
    out[lead + (nt,)] = 0
    out[lead + (slice(1, nt + 1), slice(0, L - T))] += z[lead + (slice(None), slice(T, L))]
    return out.reshape(z.shape[:ax] + ((nt + 1) * T,) + z.shape[ax + 2:])


def _unwindow(z, h, w):
    """Adjoint of _windows: z (b, th, tw, C, Lh, Lw) -> (b, C, H, W), the
    overlapping parts of neighbouring windows added (overlap-add)."""
    if h.tiles == 1 and w.tiles == 1:
        return z[:, 0, 0]
    z = z.transpose(0, 3, 1, 4, 2, 5)                 # (b, C, th, Lh, tw, Lw)
    z = _fold(z, 4, w.T) if w.tiles > 1 else z[:, :, :, :, 0]   # (b, C, th, Lh, Wv)
    z = _fold(z, 2, h.T) if h.tiles > 1 else z[:, :, 0]         # (b, C, Hv, Wv)
    return z[:, :, h.lo:h.lo + h.n, w.lo:w.lo + w.n]


def _tiles(y, h, w):
    """Output-side tiles (b, th, tw, K, Th, Tw) of y (b, K, P, Q): outputs
    [first, first + count) on each axis, cut every T, zero past the end (a view
    where no zeros are needed)."""
    b, K = y.shape[:2]
    c = y[:, :, h.first:h.first + h.count, w.first:w.first + w.count]
    Ph, Pw = h.tiles * h.T, w.tiles * w.T
    if (Ph, Pw) != (h.count, w.count):
        c = np.pad(c, ((0, 0), (0, 0), (0, Ph - h.count), (0, Pw - w.count)))
    if h.tiles == 1 and w.tiles == 1:
        return c[:, None, None]
    return c.reshape(b, K, h.tiles, h.T, w.tiles, w.T).transpose(0, 2, 4, 1, 3, 5)


def _untile(z, h, w, out):
    """Adjoint of _tiles: out[:, :, first.., first..] = tiles z (b, th, tw, K, Th, Tw)."""
    b, K = z.shape[0], z.shape[3]
    z = z.transpose(0, 3, 1, 4, 2, 5).reshape(b, K, h.tiles * h.T, w.tiles * w.T)
    out[:, :, h.first:h.first + h.count, w.first:w.first + w.count] = \
        z[:, :, :h.count, :w.count]


def _contract(a, b):
    """out[g, i, j, f] = sum_l a[g, i, l, f] * b[g, l, j, f] (complex), f innermost:
    a broadcast product when l has length 1 or the result is a vector, else one
    batched matmul over (g, f)."""
    G, I, L, F = a.shape
    J = b.shape[2]
    if L == 1:
        return a * b
    if J == 1:
        return (a * b.transpose(0, 2, 1, 3)).sum(axis=2, keepdims=True)
    if I == 1 and L * J <= 16:
        return (a.transpose(0, 2, 1, 3) * b).sum(axis=1, keepdims=True)
    am = np.ascontiguousarray(a.transpose(0, 3, 1, 2))
    bm = np.ascontiguousarray(b.transpose(0, 3, 1, 2))
    return np.matmul(am, bm).transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------- driver

def _check_memory(op, geo, h, w, dtype, chunk):
    """MemoryError (before allocating) if the call's spectra cannot fit."""
    from ._api import _too_big
    cs = _complex_dtype(dtype).itemsize
    freqs = h.F * (w.F // 2 + 1)
    tiles = h.tiles * w.tiles
    Cg = geo.C // geo.groups
    weight = geo.K * Cg * freqs * cs * 2          # spectrum and its matmul-layout copy
    per_image = (geo.C + geo.K) * tiles * freqs * cs * 2
    nbytes = weight + chunk * per_image
    _too_big(lambda: (f"the FFT {op} on input {geo.input_shape}, weight {geo.weight_shape} "
                      f"(FFT size {h.F}x{w.F}, {tiles} tile(s) per image, {chunk} "
                      f"image(s) at a time)"), nbytes)


def _chunk(geo, h, w, dtype):
    """Images per chunk: spectra in flight near _CHUNK_BYTES."""
    cs = _complex_dtype(dtype).itemsize
    per_image = (geo.C + geo.K) * h.tiles * w.tiles * h.F * (w.F // 2 + 1) * cs * 2
    return max(1, min(geo.N, _CHUNK_BYTES // max(per_image, 1)))


def _grouped(s, G):
    """(B, channels, ...) spectrum -> (G, B, channels/G, f) view, f flattened."""
    B, C = s.shape[:2]
    return s.reshape(B, G, C // G, -1).transpose(1, 0, 2, 3)


def _setup(op, geo, dtype):
    """The plan (h, w) and images per chunk, after the memory check."""
    _, h, w = _plan(geo)
    chunk = _chunk(geo, h, w, dtype)
    _check_memory(op, geo, h, w, dtype, chunk)
    return h, w, chunk


def fft_forward(x, w4, geo, threads):
    """y (N, K, P, Q) = conv2d(x, w4) (stride 1, no bias) through spectra."""
    h, w, chunk = _setup("forward", geo, x.dtype)
    G, K = geo.groups, geo.K
    tiles = h.tiles * w.tiles
    wspec = _kernel_spectrum(w4, h, w, _workers(threads, w4.size * w.F))
    # b[g, c, k, f] = conj(W[g*Kg + k, c, f])
    wb = np.conj(wspec).reshape(G, K // G, geo.C // G, -1).transpose(0, 2, 1, 3)
    partial = h.count < geo.P or w.count < geo.Q
    y = (np.zeros if partial else np.empty)(geo.output_shape, x.dtype)
    for n0 in range(0, geo.N, chunk):
        xs = x[n0:n0 + chunk]
        b = xs.shape[0]
        win = _windows(xs, h, w)
        sx = _spectrum(win, h, w, _workers(threads, win.size))
        freq_shape = sx.shape[-2:]
        sx = sx.reshape((b * tiles, geo.C) + freq_shape)
        del win
        sy = _contract(_grouped(sx, G), wb)          # (G, B, Kg, f)
        del sx
        sy = sy.transpose(1, 0, 2, 3).reshape((b * tiles, K) + freq_shape)
        z = _inverse(sy, h, w, slice(0, h.T), slice(0, w.T), _workers(threads, sy.size))
        _untile(z.reshape(b, h.tiles, w.tiles, K, h.T, w.T), h, w, y[n0:n0 + b])
    return y


def fft_input(w4, gy, geo, threads):
    """dx (N, C, H, W) = conv2d_input(w4, gy) (stride 1): the adjoint of fft_forward,
    overlap-add where the forward is overlap-save; inputs no output reads are 0."""
    h, w, chunk = _setup("input gradient", geo, gy.dtype)
    G, C, K = geo.groups, geo.C, geo.K
    tiles = h.tiles * w.tiles
    wspec = _kernel_spectrum(w4, h, w, _workers(threads, w4.size * w.F))
    wb = wspec.reshape(G, K // G, C // G, -1)        # b[g, k, c, f] = W[g*Kg + k, c, f]
    dx = np.empty(geo.input_shape, gy.dtype)
    for n0 in range(0, geo.N, chunk):
        gs = gy[n0:n0 + chunk]
        b = gs.shape[0]
        t = _tiles(gs, h, w)
        sg = _spectrum(t, h, w, _workers(threads, t.size))
        freq_shape = sg.shape[-2:]
        sg = sg.reshape((b * tiles, K) + freq_shape)
        del t
        sx = _contract(_grouped(sg, G), wb)           # (G, B, Cg, f)
        del sg
        sx = sx.transpose(1, 0, 2, 3).reshape((b * tiles, C) + freq_shape)
        z = _inverse(sx, h, w, slice(0, h.L), slice(0, w.L), _workers(threads, sx.size))
        dx[n0:n0 + b] = _unwindow(z.reshape((b, h.tiles, w.tiles, C, h.L, w.L)), h, w)
    # what no output reads is exactly 0, not FFT rounding
    dx[:, :, h.unread(), :] = 0
    dx[:, :, :, w.unread()] = 0
    return dx


def fft_weight(x, gy, geo, threads):
    """dw (K, C/groups, R, S) = conv2d_weight(x, gy) (stride 1): the
    cross-correlation of x with gy, summed over images and tiles in the
    frequency domain, read at the kernel's taps."""
    h, w, chunk = _setup("weight gradient", geo, x.dtype)
    G, C, K = geo.groups, geo.C, geo.K
    Cg, Kg = C // G, K // G
    tiles = h.tiles * w.tiles
    acc = None
    for n0 in range(0, geo.N, chunk):
        xs, gs = x[n0:n0 + chunk], gy[n0:n0 + chunk]
        b = xs.shape[0]
        win = _windows(xs, h, w)
        sx = _spectrum(win, h, w, _workers(threads, win.size))
        freq_shape = sx.shape[-2:]
        sx = sx.reshape((b * tiles, C) + freq_shape)
        del win
        t = _tiles(gs, h, w)
        sg = _spectrum(t, h, w, _workers(threads, t.size)).reshape((b * tiles, K) + freq_shape)
        del t
        # a[g, k, B, f] = conj(GY[B, g*Kg + k, f]);  b[g, B, c, f] = X[B, g*Cg + c, f]
        part = _contract(np.conj(_grouped(sg, G)).transpose(0, 2, 1, 3), _grouped(sx, G))
        del sx, sg
        if acc is None:
            acc = part
        else:
            acc += part
    spec = acc.reshape((K, Cg) + freq_shape)          # (G, Kg, Cg, f) -> (K, Cg, Fh, Fw')
    dw = _inverse(np.ascontiguousarray(spec), h, w, h.tap_index(), w.tap_index(),
                  _workers(threads, spec.size))
    return np.ascontiguousarray(dw, dtype=x.dtype)


# --------------------------------------------------------------------------- policy

def fft_unsupported(geo):
    """Why the FFT algorithm cannot run geo (a string), or None if it can."""
    if tuple(geo.stride) != (1, 1):
        return (f"stride {tuple(geo.stride)}: the FFT algorithm computes stride-1 "
                f"convolutions only")
    return None


# convx's direct / im2col kernels, GFLOP/s per thread (float32, avx512, one
# thread, measured on the calibration shapes and rounded up, so that FFT is
# chosen only where it clearly wins): layers with C/groups x K/groups >= 16
# ran at 150-240; thinner 2-D ones at 14-96 (forward, input gradient) and up to
# 104 (weight gradient), 4 rows of a 1-D signal at 98; a single 1-D signal (one
# image, one row or column) at 43-53 (forward), 28-41 (input gradient) and
# 85-120 (weight gradient).
_DIRECT_GFLOPS = {("wide", "fwd"): 250.0, ("wide", "wgrad"): 250.0, ("wide", "dgrad"): 250.0,
                  ("thin", "fwd"): 90.0, ("thin", "wgrad"): 100.0, ("thin", "dgrad"): 93.0,
                  ("1d", "fwd"): 60.0, ("1d", "wgrad"): 130.0, ("1d", "dgrad"): 45.0}
# "auto" picks FFT when its modelled time is below 1 / _MARGIN of the direct
# kernels': a 1.3x speedup, with room for the model's error (-30% for most
# shapes).
_MARGIN = 1.7
# The FFT's speed-up per thread beyond the first: scipy's workers split the
# transform batches, the copies and the channel mix stay serial; 2 threads ran
# 1.1-1.4x faster on the 2048 x 2048 image, and 1.2-1.4x on 512 x 512 images
# (21x21 and 31x31 kernels) and a 16-channel 256 x 256 depthwise layer
# (re-measured after the first calibration; smaller batches than
# _FFT_PARALLEL_BATCH points get _FFT_SMALL_GAIN).
_FFT_THREAD_GAIN = 0.3
_FFT_SMALL_GAIN = 0.2
_FFT_PARALLEL_BATCH = 2**21
# Above _FFT_LARGE_BATCH points the transforms dominate and split well: the
# 2048 x 2048 image with a 31x31 kernel (8.6 M points) ran 1.64x (forward),
# 1.50x (weight gradient) and 1.46x (input gradient) faster on 2 threads than
# on 1 (re-measured 2026-11-29; with 0.3 "auto" kept the direct kernels there
# at 2 threads although FFT was 1.9-2.5x faster).
_FFT_LARGE_GAIN = 0.45
_FFT_LARGE_BATCH = 2**23
# The direct weight gradient of layers with C/groups x K/groups >= 16 slows
# down on kernels of >= 900 taps (the band of 30+ rows no longer fits, column
# tiles or im2col take over): 94-199 GFLOP/s at 31x31 (4 -> 4, 1 -> 16 channels,
# 256 x 256) and im2col's 113-123 for 8 -> 8 and 16 -> 16 (128 x 128), against
# 200-217 at 15x15 to 25x25.
_WGRAD_BIG_KERNEL_TAPS = 900
_WGRAD_BIG_KERNEL_GFLOPS = 120.0


def _direct_ns(op, geo, threads):
    """Modelled time (ns) of the direct / im2col kernels: flops / rate, split
    over the threads (the direct kernels split a single 1-D signal's one
    output row over no more than its channels)."""
    if (geo.C // geo.groups) * (geo.K // geo.groups) >= 16:
        if op == "wgrad" and geo.R * geo.S >= _WGRAD_BIG_KERNEL_TAPS:
            return geo.flops / (_WGRAD_BIG_KERNEL_GFLOPS * threads)
        kind = "wide"
    elif geo.N == 1 and min(geo.P, geo.Q) == 1:
        kind = "1d"
        threads = min(threads, geo.C if op == "dgrad" else geo.K)
    else:
        kind = "thin"
    return geo.flops / (_DIRECT_GFLOPS[kind, op] * threads)


def _fft_gain(geo, threads, plan):
    """Modelled speed-up of the FFT algorithm on ``threads`` threads."""
    _, h, w = plan
    points = geo.N * (geo.C + geo.K) * h.points * w.points
    if points < _FFT_PARALLEL_BATCH:
        return 1 + _FFT_SMALL_GAIN * (threads - 1)
    if points >= _FFT_LARGE_BATCH:
        return 1 + _FFT_LARGE_GAIN * (threads - 1)
    return 1 + _FFT_THREAD_GAIN * (threads - 1)


def _fft_ns(op, geo, threads):
    """Modelled time (ns) of the FFT algorithm for op with ``threads`` threads."""
    plan = _plan(geo)
    return _model_ns(geo, plan[1], plan[2], op) / _fft_gain(geo, threads, plan)


def fft_preferred(op, geo, dtype, threads=1):
    """(use FFT?, reason): should algorithm="auto" run the FFT algorithm for op
    ("fwd", "wgrad" or "dgrad") on geo, and why, in words.

    A cost model (module constants, calibrated on the developers' VM): the
    direct kernels take flops / rate (``_DIRECT_GFLOPS``, on the fast side),
    the FFT its modelled time (``_model_ns`` of the plan it would run); FFT is
    chosen when it is modelled ``_MARGIN`` (2x) faster, so that "auto" gets
    only clearly faster. ``threads`` (the call's thread count) matters because
    the direct kernels scale with threads and the FFT's copies do not. float64
    is judged like float32 (both algorithms take about twice as long).
    """
    why = fft_unsupported(geo)
    if why is not None:
        return False, why
    Cg, Kg = geo.C // geo.groups, geo.K // geo.groups
    what = (f"{geo.R}x{geo.S} kernel on {Cg} channel(s) per group"
            + (f" to {Kg}" if Kg != Cg else ""))
    direct = _direct_ns(op, geo, threads)
    # a lower bound of the FFT's time first: every point of every plane once
    fixed, point = _COST[op][:2]
    floor = fixed + point * geo.N * (geo.C + geo.K) * geo.P * geo.Q
    if direct < _MARGIN * floor / (1 + _FFT_LARGE_GAIN * (threads - 1)):
        # (the FFT's time is at least this: no plan needs to be made)
        return False, f"{what}: direct kernels (too little work per pixel for FFT)"
    ratio = direct / _fft_ns(op, geo, threads)      # plans the FFT (cached per geometry)
    if ratio >= _MARGIN:
        return True, f"{what}: FFT (~{ratio:.1f}x est. faster)"
    return False, (f"{what}: direct kernels (FFT est. {ratio:.1f}x, below the "
                   f"{_MARGIN:g}x margin)")
