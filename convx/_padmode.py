"""Padding modes other than zeros: the pad, and its adjoint (the fold-back).

``padding_mode="reflect" | "replicate" | "circular"`` pads the input explicitly
and convolves the padded array with zero padding; the input gradient is the
padded array's gradient folded back onto the input: every padded position was
a copy of one input position, so its gradient is added there (``fold``, the
adjoint of ``pad``). The modes follow ``torch.nn.functional.pad`` (and numpy's
"reflect", "edge" and "wrap"): reflect mirrors without repeating the edge and
needs pad < size, replicate repeats the edge, circular wraps around and needs
pad <= size.

Both functions work one spatial axis at a time on slices (a copy of the input
into the interior of the padded array, then a few slice assignments per padded
position), so the only full-size allocation is the padded array itself.
"""

import numpy as np

MODES = ("zeros", "reflect", "replicate", "circular")


def check_mode(padding_mode):
    """The validated padding_mode string."""
    if not isinstance(padding_mode, str):
        raise TypeError(f"padding_mode must be a string, one of {MODES}, got "
                        f"{padding_mode!r} of type {type(padding_mode).__name__}")
    if padding_mode not in MODES:
        raise ValueError(f"padding_mode must be one of {MODES}, got {padding_mode!r}")
    return str(padding_mode)


def source_index(size, lo, hi, mode):
    """For each position of an axis of ``size`` padded by (lo, hi): the input
    position it copies (an int64 array of size + lo + hi)."""
    i = np.arange(-lo, size + hi, dtype=np.int64)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    if mode == "circular":
        return i % size
    period = 2 * (size - 1)          # reflect: ... 2 1 [0 1 2 .. n-1] n-2 n-3 ...
    if period == 0:
        return np.zeros_like(i)
    j = np.abs(i) % period
    return np.where(j < size, j, period - j)


def check_pads(mode, sizes, pads, name="input", axes=None):
    """ValueError when a pad is illegal for the mode on an axis of the given size."""
    axes = axes or [f"spatial dimension {i}" for i in range(len(sizes))]
    for n, (lo, hi), axis in zip(sizes, pads, axes):
        if lo == hi == 0:
            continue
        if n == 0:
            raise ValueError(f"padding_mode={mode!r} cannot pad an empty {axis} of {name} "
                             f"(size 0, padding ({lo}, {hi}))")
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"padding_mode='reflect' needs padding smaller than the {name} "
                             f"{axis} ({n}), got padding ({lo}, {hi})")
        if mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"padding_mode='circular' needs padding at most the {name} "
                             f"{axis} ({n}), got padding ({lo}, {hi})")


def _spatial_axes(ndim, nd, channels_last):
    """The axes of the nd spatial dimensions: the last ones, or the ones before
    the channel axis."""
    end = ndim - (1 if channels_last else 0)
    return list(range(end - nd, end))


def pad(x, pads, mode, dtype=None, channels_last=False):
    """x (..., *spatial) (or (..., *spatial, C)) padded on its spatial axes by
    pads [(lo, hi), ...], as a new C-contiguous array of dtype (default x's)."""
    axes = _spatial_axes(x.ndim, len(pads), channels_last)
    shape = list(x.shape)
    inner = [slice(None)] * x.ndim
    for ax, (lo, hi) in zip(axes, pads):
        shape[ax] += lo + hi
        inner[ax] = slice(lo, lo + x.shape[ax])
    xp = np.empty(shape, x.dtype if dtype is None else dtype)
    xp[tuple(inner)] = x
    # axis by axis; an axis's border copies the already padded earlier axes
    # (corners are then padded in both, as torch and numpy do)
    for a, (ax, (lo, hi)) in enumerate(zip(axes, pads)):
        if lo == hi == 0:
            continue
        n = x.shape[ax]
        src = source_index(n, lo, hi, mode)
        full = [slice(None)] * xp.ndim
        for later in axes[a + 1:]:                  # later axes: interior only so far
            full[later] = inner[later]
        for i in list(range(lo)) + list(range(lo + n, lo + n + hi)):
            dst, frm = list(full), list(full)
            dst[ax], frm[ax] = i, lo + int(src[i])
            xp[tuple(dst)] = xp[tuple(frm)]
    return xp


def fold(dxp, pads, mode, channels_last=False):
    """The adjoint of pad: dxp (..., *padded) (or (..., *padded, C)) summed back
    onto the unpadded shape.

    Works in place in dxp (which it overwrites): the last axis's border
    slices are added to the slices they copied, then the next axis's (over
    the inner part of the later axes only), the reverse of pad's order; one
    copy of the inner part at the end."""
    axes = _spatial_axes(dxp.ndim, len(pads), channels_last)
    inner = [slice(None)] * dxp.ndim
    for ax, (lo, hi) in zip(axes, pads):
        inner[ax] = slice(lo, dxp.shape[ax] - hi)
    for a in range(len(pads) - 1, -1, -1):
        ax, (lo, hi) = axes[a], pads[a]
        if lo == hi == 0:
            continue
        n = dxp.shape[ax] - lo - hi
        src = source_index(n, lo, hi, mode)
        base = [slice(None)] * dxp.ndim
        for later in axes[a + 1:]:                  # later axes are already folded
            base[later] = inner[later]
        for i in list(range(lo)) + list(range(lo + n, lo + n + hi)):
            o, b = list(base), list(base)
            o[ax], b[ax] = lo + int(src[i]), i
            dxp[tuple(o)] += dxp[tuple(b)]
    return np.ascontiguousarray(dxp[tuple(inner)])
