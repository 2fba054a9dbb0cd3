"""Naive float64 references for N-d convolution, its gradients, padding modes
and transposed convolution, written from the definitions and independently of
convx (and of tests/reference.py, which is 2-D only).

    out[n, k, o...] = bias[k] + sum_{c, t...} w[k, c, t...] *
                      xpad[n, g*Cg + c, o_i*stride_i + t_i*dilation_i ...]

with xpad = np.pad(x, padding, mode) (numpy's "constant", "reflect", "edge" or
"wrap" for convx's "zeros", "reflect", "replicate", "circular"). The weight
gradient and the input gradient are the same sum read the other way: the
input gradient scatters grad_output through every tap into a zero padded
array and (for the other modes) adds each padded position's gradient back to
the input position np.pad copied it from (found by padding the indices).
"""

import itertools

import numpy as np

NP_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
           "circular": "wrap"}


def tup(v, nd):
    if isinstance(v, (tuple, list)):
        assert len(v) == nd
        return tuple(int(a) for a in v)
    return (int(v),) * nd


def resolve_padding(padding, sizes, kernel, stride, dilation):
    """nd (lo, hi) pairs; "same" by TensorFlow's rule, written out here."""
    nd = len(sizes)
    if padding == "valid":
        return ((0, 0),) * nd
    if padding == "same":
        out = []
        for n, k, s, d in zip(sizes, kernel, stride, dilation):
            o = (n + s - 1) // s
            total = max(0, (o - 1) * s + d * (k - 1) + 1 - n)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    if isinstance(padding, (tuple, list)):
        return tuple((p, p) if np.isscalar(p) else (int(p[0]), int(p[1])) for p in padding)
    return ((int(padding), int(padding)),) * nd


def _setup(x_shape, w_shape, stride, padding, dilation):
    nd = len(x_shape) - 2
    stride, dilation = tup(stride, nd), tup(dilation, nd)
    pads = resolve_padding(padding, x_shape[2:], w_shape[2:], stride, dilation)
    out = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                for n, k, s, d, (lo, hi) in zip(x_shape[2:], w_shape[2:], stride, dilation,
                                                pads))
    return nd, stride, dilation, pads, out


def _window(nd, tap, stride, dilation, out):
    return tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                 for t, s, d, o in zip(tap, stride, dilation, out))


def ref_conv(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd, stride, dilation, pads, out = _setup(x.shape, w.shape, stride, padding, dilation)
    N, C = x.shape[:2]
    K, Cg = w.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0)) + pads, mode=NP_MODE[mode])
    y = np.zeros((N, K) + out)
    Kg = K // groups
    for g in range(groups):
        for tap in itertools.product(*(range(k) for k in w.shape[2:])):
            win = xp[(slice(None), slice(g * Cg, (g + 1) * Cg)) + _window(nd, tap, stride,
                                                                          dilation, out)]
            wt = w[(slice(g * Kg, (g + 1) * Kg), slice(None)) + tap]
            y[:, g * Kg:(g + 1) * Kg] += np.einsum("nc...,kc->nk...", win, wt)
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape((-1,) + (1,) * nd)
    return y


def ref_conv_weight(x, w_shape, gy, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
    x = np.asarray(x, np.float64)
    gy = np.asarray(gy, np.float64)
    nd, stride, dilation, pads, out = _setup(x.shape, w_shape, stride, padding, dilation)
    K, Cg = w_shape[:2]
    Kg = K // groups
    xp = np.pad(x, ((0, 0), (0, 0)) + pads, mode=NP_MODE[mode])
    dw = np.zeros(w_shape)
    for g in range(groups):
        for tap in itertools.product(*(range(k) for k in w_shape[2:])):
            win = xp[(slice(None), slice(g * Cg, (g + 1) * Cg)) + _window(nd, tap, stride,
                                                                          dilation, out)]
            axes = [0] + list(range(2, 2 + nd))        # batch and output pixels
            dw[(slice(g * Kg, (g + 1) * Kg), slice(None)) + tap] = np.tensordot(
                gy[:, g * Kg:(g + 1) * Kg], win, axes=(axes, axes))
    return dw


def ref_conv_input(x_shape, w, gy, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
    w = np.asarray(w, np.float64)
    gy = np.asarray(gy, np.float64)
    nd, stride, dilation, pads, out = _setup(x_shape, w.shape, stride, padding, dilation)
    K, Cg = w.shape[:2]
    Kg = K // groups
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads))
    dxp = np.zeros(tuple(x_shape[:2]) + padded)
    for g in range(groups):
        for tap in itertools.product(*(range(k) for k in w.shape[2:])):
            wt = w[(slice(g * Kg, (g + 1) * Kg), slice(None)) + tap]
            dxp[(slice(None), slice(g * Cg, (g + 1) * Cg)) + _window(nd, tap, stride,
                                                                     dilation, out)] += \
                np.einsum("nk...,kc->nc...", gy[:, g * Kg:(g + 1) * Kg], wt)
    # every padded position's gradient goes to the input position it copies
    src = [np.pad(np.arange(n), (lo, hi), mode=NP_MODE[mode] if mode != "zeros" else "constant",
                  **({"constant_values": -1} if mode == "zeros" else {}))
           for n, (lo, hi) in zip(x_shape[2:], pads)]
    dx = np.zeros(x_shape)
    for pos in itertools.product(*(range(len(s)) for s in src)):
        to = tuple(int(s[p]) for s, p in zip(src, pos))
        if min(to) < 0:
            continue
        dx[(Ellipsis,) + to] += dxp[(Ellipsis,) + pos]
    return dx


def ref_conv_transpose(x, w, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                       dilation=1):
    """Transposed convolution by its definition: every input pixel scatters
    weight-scaled copies of itself, then `padding` pixels are cut from each
    side and `output_padding` zeros added to the end."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    stride, dilation = tup(stride, nd), tup(dilation, nd)
    pad, opad = tup(padding, nd), tup(output_padding, nd)
    N, Cin = x.shape[:2]
    Cog = w.shape[1]
    Cig = Cin // groups
    full = tuple((n - 1) * s + d * (k - 1) + 1
                 for n, s, d, k in zip(x.shape[2:], stride, dilation, w.shape[2:]))
    big = np.zeros((N, Cog * groups) + tuple(f + e for f, e in zip(full, opad)))
    for g in range(groups):
        for tap in itertools.product(*(range(k) for k in w.shape[2:])):
            win = tuple(slice(t * d, t * d + (n - 1) * s + 1, s)
                        for t, d, s, n in zip(tap, dilation, stride, x.shape[2:]))
            wt = w[(slice(g * Cig, (g + 1) * Cig), slice(None)) + tap]     # (Cig, Cog)
            big[(slice(None), slice(g * Cog, (g + 1) * Cog)) + win] += np.einsum(
                "nc...,co->no...", x[:, g * Cig:(g + 1) * Cig], wt)
    outs = tuple(f - 2 * p + e for f, p, e in zip(full, pad, opad))
    y = big[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(pad, outs))]
    y = np.ascontiguousarray(y)
    if bias is not None:
        y += np.asarray(bias, np.float64).reshape((-1,) + (1,) * nd)
    return y
