"""Public convolution functions: argument validation, dtype policy, allocation.

This is the top layer (see STYLE.md): it turns whatever the caller passed into
C-contiguous, aligned, native float32/float64 arrays and a validated geometry,
allocates the result (MemoryError before anything runs if it cannot exist),
and calls the Cython glue in ``convx._conv``. Every error a user can cause is
raised here, as a TypeError (wrong type) or ValueError (wrong value or shape)
whose message names the argument.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from . import _conv, _layout, _memory, _padmode

__all__ = ["conv2d", "conv2d_weight", "conv2d_input"]

ALGORITHMS = ("auto", "direct", "im2col", "fft")

# Sizes, strides and paddings are kept below 2**60 so that every index the C
# layer computes (p * stride + r * dilation - pad, products of dimensions)
# stays far inside a signed 64-bit integer.
_SIZE_LIMIT = 2**60
# A request for more threads than this is clamped: results do not depend on
# the thread count, and asking an OpenMP runtime for millions of threads can
# abort the process.
MAX_THREADS = 256


# --------------------------------------------------------------------------- scalars

def _int(name, value, minimum):
    """An integer argument (Python or numpy integer, or a 0-d integer array, as
    padding has always accepted; never bool) >= minimum."""
    if type(value) is int and minimum <= value < _SIZE_LIMIT:
        return value    # the common case, without the ABC checks below (bool is not int)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value >= _SIZE_LIMIT:
        raise ValueError(f"{name}={value} is too large (must be < 2**60)")
    return value


def _pair(name, value, minimum):
    """An int or a pair of ints, each >= minimum, as an (h, w) tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r} "
                             f"(length {len(value)})")
        return (_int(name, value[0], minimum), _int(name, value[1], minimum))
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return _pair(name, list(value), minimum)
    return (_int(name, value, minimum),) * 2


# --------------------------------------------------------------------------- threads
#
# The rule (README, "Limits and safety"):
# * threads=None in the main thread: OpenMP's default, omp_get_max_threads(),
#   which honours OMP_NUM_THREADS and threadpoolctl's limits;
# * threads=None in any other thread (a Python thread pool, a Dask or web
#   worker, an OpenMP thread calling back into Python): 1 thread. The caller's
#   pool is already the parallelism; an OpenMP team per pool thread would start
#   pool size x cores threads. Pass threads= to choose otherwise;
# * an explicit threads= is used as given (at most MAX_THREADS);
# * in a process created by fork: 1 thread whatever was asked, with one
#   RuntimeWarning. GNU OpenMP's thread pool does not survive fork: a parallel
#   region in the child of a parent that ran one waits forever for pool
#   threads that do not exist. Only a serial region is safe there.

_forked = False          # set in the child by os.register_at_fork
_fork_warned = False


def _after_fork_in_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _fork_fallback(wanted):
    global _fork_warned
    if not _fork_warned:
        _fork_warned = True
        warnings.warn(
            f"convx: this process was created by fork, and GNU OpenMP cannot start threads "
            f"after a fork; convx runs with 1 thread here instead of {wanted} (this warning "
            f"is shown once). Use the 'spawn' or 'forkserver' start method for parallel "
            f"convx in child processes.", RuntimeWarning, stacklevel=4)
    return 1


def _threads(threads):
    """The OpenMP thread count of one call (the rule above)."""
    if threads is None:
        if threading.current_thread() is threading.main_thread():
            n = max(1, min(_conv.max_threads(), MAX_THREADS))
        else:
            n = 1
    else:
        n = min(_int("threads", threads, 1), MAX_THREADS)
    if _forked and n > 1:
        return _fork_fallback(n)
    return n


def _algorithm(algorithm):
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a string, one of {ALGORITHMS}, "
                        f"got {algorithm!r} of type {type(algorithm).__name__}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    return str(algorithm)   # a str subclass (numpy.str_) as the glue's plain str


def _padding(padding, size, kernel, stride, dilation):
    """Resolve the padding argument to ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            pads = []
            for n, r, s, d in zip(size, kernel, stride, dilation):
                out = -(-n // s)
                total = max((out - 1) * s + (r - 1) * d + 1 - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"padding must be an int, a pair, a pair of pairs, 'valid' or 'same', "
                         f"got {padding!r}")
    if isinstance(padding, np.ndarray):
        padding = padding.tolist()
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"padding must be an int, a pair (pad_h, pad_w) or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        out = []
        for p in padding:
            if isinstance(p, (tuple, list)):
                if len(p) != 2:
                    raise ValueError(f"padding must be ((top, bottom), (left, right)), "
                                     f"got {padding!r}")
                out.append((_int("padding", p[0], 0), _int("padding", p[1], 0)))
            else:
                v = _int("padding", p, 0)
                out.append((v, v))
        return tuple(out)
    v = _int("padding", padding, 0)
    return ((v, v), (v, v))


# --------------------------------------------------------------------------- arrays

def _array(name, value):
    """np.asarray with a TypeError for dtypes convx cannot compute in."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    kind = a.dtype.kind
    if kind not in "biuf" or (kind == "f" and a.dtype.itemsize > 8):
        raise TypeError(f"{name} has dtype {a.dtype}; convx computes in float32 or float64 and "
                        f"accepts bool, integer and float arrays up to float64")
    return a


_DTYPES = {}


def _compute_dtype(*dtypes):
    """numpy's promotion, then: integer/bool -> float64, float16 -> float32
    (remembered per tuple of dtypes: numpy's promotion costs ~0.5 us a call)."""
    hit = _DTYPES.get(dtypes)
    if hit is None:
        hit = _remember(_DTYPES, dtypes, _promote(*dtypes))
    return hit


def _promote(*dtypes):
    dt = np.result_type(*dtypes)
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _prepare(name, a, dtype):
    """A C-contiguous, aligned, native-order copy of a, or a itself if it is one already.

    Only a copy costs memory; it is checked like any other allocation (a
    broadcast view can describe far more data than exists).
    """
    if a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned:
        return a
    _check_size(f"a contiguous {dtype} copy of {name}", a.shape, dtype)
    return np.require(a, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


_NO_LIMIT = 2**62


def _read_limit(path):
    """A cgroup memory limit file: bytes, or _NO_LIMIT ('max', absent, unreadable)."""
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text.isdigit() else _NO_LIMIT
    except (OSError, ValueError):
        return _NO_LIMIT


def _cgroup_limit():
    """The lowest memory limit of this process's cgroup and its ancestors (v1 or v2)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return _NO_LIMIT
    limit = _NO_LIMIT
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            root, name = "/sys/fs/cgroup", "memory.max"
        elif "memory" in controllers.split(","):
            root, name = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):
            limit = min(limit, _read_limit(os.path.join(root, *parts[:depth], name)))
    return limit


@functools.lru_cache(maxsize=1)
def _machine_memory():
    """Physical memory, or the container's (cgroup's) memory limit when lower."""
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        phys = _NO_LIMIT
    return min(phys, _cgroup_limit())


def _memory_limit():
    """Bytes one call may never exceed: the machine's (or cgroup's) memory, or the
    process's address-space / data rlimit when lower. Requests above it raise
    MemoryError before anything is allocated; requests below it are attempted."""
    limit = _machine_memory()
    try:
        import resource
        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY and soft > 0:
                limit = min(limit, soft)
    except (ImportError, OSError, ValueError, AttributeError):
        pass
    return limit


# Requests up to this size are never checked (no process runs in less memory).
_ALWAYS_FITS = 2**26


def _too_big(what, nbytes):
    """MemoryError if nbytes is above _memory_limit(); ``what()`` describes the request."""
    if nbytes <= _ALWAYS_FITS:
        return
    limit = _memory_limit()
    if nbytes > limit:
        raise MemoryError(f"{what()} would need {nbytes / 2**30:.3g} GiB, more than the "
                          f"{limit / 2**30:.3g} GiB of memory this process may use")


def _check_size(name, shape, dtype):
    """MemoryError (before allocating) if shape cannot exist in this machine's memory."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    _too_big(lambda: f"{name} of shape {tuple(shape)} and dtype {np.dtype(dtype)}", nbytes)


def _copy_bytes(a, dtype):
    """Bytes _prepare allocates for a (0 when a is used as it is)."""
    if a is None or (a.dtype == dtype and a.flags.c_contiguous and a.flags.aligned):
        return 0
    return a.size * np.dtype(dtype).itemsize


# --------------------------------------------------------------------------- memo
#
# Validating a call's parameters, choosing its algorithm and sizing its plan
# depend only on shapes, dtypes, parameters, the thread count and the active
# SIMD path, and together cost 10-15 us of Python per call: as much as 5-10%
# of a small layer's whole convolution on 2 threads (lenet2's forward takes
# about 0.2 ms). Those results are remembered, keyed on exactly what they
# depend on, when every parameter is a plain int, str or tuple of them
# (anything else, a numpy integer or a list, takes the full path each call,
# as does every call that raises: errors are never remembered).

_MEMO_LIMIT = 4096      # entries per table; a full table is emptied (no LRU bookkeeping)


def _plain(value):
    """Is value an int (not bool), str, None or a tuple of such (the memo keys)?"""
    t = type(value)
    if t is int or t is str or value is None:
        return True
    if t is not tuple:
        return False
    for v in value:
        if type(v) is not int and not _plain(v):
            return False
    return True


def _memo_key(arrays, params, nthreads):
    """The key of a call in the memos (_FAST_FWD, _FAST_DGRAD, _FAST_WGRAD):
    each array's shape and dtype, then the plain parameters, the thread count
    and the SIMD path; None where an operand is not an ndarray or a parameter
    is not a plain (hashable, comparable) value -- such calls take the checked
    path every time."""
    if not _plain(params) or any(type(a) is not np.ndarray for a in arrays):
        return None
    return (*(v for a in arrays for v in (a.shape, a.dtype)), *params, nthreads,
            _conv.active_isa())


def _remember(table, key, value):
    if len(table) >= _MEMO_LIMIT:
        table.clear()
    table[key] = value
    return value


_PLAN_WORK = {}


def _plan_work(op, geo, algo, dtype, nthreads):
    """(workspace bytes of the plan's allocations, threads it uses): what
    _plan_memory adds to the call's own allocations (memoised per path)."""
    key = (op, geo, algo, np.dtype(dtype).char, nthreads, _conv.active_isa())
    hit = _PLAN_WORK.get(key)
    if hit is not None:
        return hit
    info = _conv.plan_info(geo.astuple(), op, algo, dtype)
    itemsize = np.dtype(dtype).itemsize
    nt = max(1, min(nthreads, info["nitems"]))
    slot = -(-info["workspace_bytes"] // 64) * 64
    wsize = geo.K * (geo.C // geo.groups) * geo.R * geo.S
    partial = info["nsplit"] * wsize * itemsize if info["nsplit"] > 1 else 0
    return _remember(_PLAN_WORK, key, (slot * nt + info["prepacked_weight_bytes"] + partial, nt))


def _plan_memory(op, geo, algo, dtype, nthreads, allocations):
    """Check the whole call's memory before allocating any of it: ``allocations``
    (output and input copies, in bytes) plus what the glue allocates for the
    plan (a workspace slot per thread, the prepacked weight, the weight
    gradient's per-chunk partial sums). Returns the total; MemoryError above
    the limit."""
    work, nt = _plan_work(op, geo, algo, dtype, nthreads)
    total = sum(allocations) + work
    _too_big(lambda: f"{op} ({algo.replace('_plain', '')}, {nt} threads) on input {geo.input_shape}, weight "
             f"{geo.weight_shape}: output and copies {sum(allocations) / 2**30:.3g} GiB, "
             f"workspace {work / 2**30:.3g} GiB, together", total)
    return total


def _algorithm_within_memory(op, geo, algorithm, algo, dtype, nthreads, allocations):
    """The algorithm to run: ``algo``, or (for "auto") the direct algorithm when
    im2col's workspace would not fit in memory, or the direct algorithm's plain
    loops (no workspace at all) when not even its kernels' would; MemoryError
    when nothing fits."""
    if algo == "fft":
        return algo     # convx._fft checks its own spectra (MemoryError before allocating)
    candidates = [algo] + ([a for a in ("direct", "direct_plain") if a != algo]
                           if algorithm == "auto" else [])
    for i, candidate in enumerate(candidates):
        try:
            _plan_memory(op, geo, candidate, dtype, nthreads, allocations)
            return candidate
        except MemoryError:
            if i == len(candidates) - 1:
                raise
    return algo   # not reached


def _memo_total(op, geo, algo, dtype, nthreads, allocations):
    """The bytes _plan_memory checked for a call: the memos (_FAST_FWD,
    _FAST_DGRAD, _FAST_WGRAD) keep it, and a repeat skips the checks only
    while it is at most _ALWAYS_FITS (requests that small are never checked,
    so the skipped checks could not have failed)."""
    return sum(allocations) + _plan_work(op, geo, algo, dtype, nthreads)[0]


def _alloc(name, shape, dtype, zero=False):
    _check_size(name, shape, dtype)
    return np.zeros(shape, dtype) if zero else _memory.empty(shape, dtype)


# --------------------------------------------------------------------------- geometry

@dataclass(frozen=True)
class Geometry:
    """A validated convolution: input (N, C, H, W), weight (K, C/groups, R, S), output (N, K, P, Q)."""

    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    P: int
    Q: int
    stride: tuple
    dilation: tuple
    padding: tuple  # ((top, bottom), (left, right))
    groups: int

    def astuple(self):
        """The order of cx_conv2d_desc."""
        return (self.N, self.C, self.H, self.W, self.K, self.R, self.S, self.P, self.Q,
                self.stride[0], self.stride[1], self.dilation[0], self.dilation[1],
                self.padding[0][0], self.padding[1][0], self.groups)

    @property
    def flops(self):
        """Multiply-adds x 2 of one forward pass (the same for each gradient)."""
        return 2 * self.N * self.K * (self.C // self.groups) * self.R * self.S * self.P * self.Q

    @property
    def output_shape(self):
        return (self.N, self.K, self.P, self.Q)

    @property
    def input_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def weight_shape(self):
        return (self.K, self.C // self.groups, self.R, self.S)


_AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_WEIGHT_FORMS = {1: "(K, C/groups, S)", 2: "(K, C/groups, R, S)", 3: "(K, C/groups, T, R, S)"}


def _check_channels(ishape, wshape, groups, input_name, weight_name, shown=None):
    """Kernel sizes, groups and channel counts of input (N, C, *sizes) and
    weight (K, C/groups, *kernel), any number of spatial dimensions; shown is
    the input's shape as the user gave it (channels-last) for the messages."""
    shown = tuple(ishape) if shown is None else tuple(shown)
    N, C, *_ = ishape
    K, Cg, *kernel = wshape
    if any(k == 0 for k in kernel):
        raise ValueError(f"{weight_name} has a zero-sized kernel: shape {tuple(wshape)} "
                         f"{_WEIGHT_FORMS[len(kernel)]} needs every kernel size >= 1")
    if C % groups:
        raise ValueError(f"groups={groups} must divide the {input_name} channels, but "
                         f"{input_name} has C={C} channels (shape {shown})")
    if K % groups:
        raise ValueError(f"groups={groups} must divide the output channels, but {weight_name} "
                         f"has K={K} (shape {tuple(wshape)})")
    if Cg * groups != C:
        raise ValueError(f"{weight_name} has {Cg} input channels per group but {input_name} has "
                         f"{C} channels and groups={groups} (expected {weight_name}.shape[1] == "
                         f"{C // groups}); {weight_name} shape {tuple(wshape)}, "
                         f"{input_name} shape {shown}")


def _output_sizes(ishape, wshape, stride, dilation, pads, same, input_name, weight_name,
                  shown=None):
    """The output's spatial sizes (after _check_channels, with stride, dilation and
    pads ((lo, hi) per dimension) parsed); ValueError when a dilated kernel does
    not fit its padded input."""
    shown = tuple(ishape) if shown is None else tuple(shown)
    sizes, kernel = ishape[2:], wshape[2:]
    out = []
    for axis, n, r, s, d, (lo, hi) in zip(_AXIS_NAMES[len(sizes)], sizes, kernel, stride,
                                         dilation, pads):
        padded, eff = n + lo + hi, (r - 1) * d + 1
        if padded >= _SIZE_LIMIT or eff >= _SIZE_LIMIT:
            raise ValueError(f"padding {tuple(pads)} with dilation {tuple(dilation)} is too "
                             f"large (padded size and dilated kernel must be < 2**60)")
        if same and n == 0:
            out.append(0)
            continue
        if eff > padded:
            raise ValueError(f"{weight_name}'s dilated kernel {axis} {eff} (size {r}, dilation "
                             f"{d}) is larger than the padded {input_name} {axis} {padded} "
                             f"({n} + padding {lo} + {hi}); {weight_name} shape "
                             f"{tuple(wshape)}, {input_name} shape {shown}")
        out.append((padded - eff) // s + 1)
    return tuple(out)


_GEOMETRIES = {}


def _geometry(input_shape, weight_shape, stride, padding, dilation, groups,
              input_name="input", weight_name="weight"):
    """Validate shapes and parameters (ints already checked for type) and compute
    the output size (memoised: see _plain)."""
    key = (input_shape, weight_shape, stride, padding, dilation, groups, input_name,
           weight_name)
    if _plain(key):
        geo = _GEOMETRIES.get(key)
        if geo is not None:
            return geo
    else:
        key = None
    geo = _geometry_checked(input_shape, weight_shape, stride, padding, dilation, groups,
                            input_name, weight_name)
    return geo if key is None else _remember(_GEOMETRIES, key, geo)


def _geometry_checked(input_shape, weight_shape, stride, padding, dilation, groups,
                      input_name, weight_name):
    """_geometry's checks and arithmetic, every call."""
    N, C, H, W = input_shape
    K, Cg, R, S = weight_shape
    stride = _pair("stride", stride, 1)
    dilation = _pair("dilation", dilation, 1)
    groups = _int("groups", groups, 1)
    _check_channels(input_shape, weight_shape, groups, input_name, weight_name)
    pads = _padding(padding, (H, W), (R, S), stride, dilation)
    same = isinstance(padding, str) and padding == "same"
    P, Q = _output_sizes(input_shape, weight_shape, stride, dilation, pads, same, input_name,
                         weight_name)
    return Geometry(N, C, H, W, K, R, S, P, Q, stride, dilation, pads, groups)


# --------------------------------------------------------------------------- non-finite values
#
# convx computes what the reference computes: the convolution of the input
# zero-padded explicitly, in IEEE arithmetic. A tap over the padding adds
# 0 * w, which is NaN when w is inf or NaN (forward), and a weight-gradient
# tap over the padding adds dy * 0, NaN when dy is (weight gradient). im2col
# and the register-blocked direct kernels multiply those zeros; the plain
# direct loops skip padding taps, so the paths end with the fix-ups below,
# which set exactly those elements to NaN (the weight gradient's, which scans
# grad_output's border, is skipped when the kernel says it multiplied them). They
# cost nothing unless a tap reads the padding, and then one pass over the
# weight (forward) or over the border of grad_output (weight gradient). The
# input gradient multiplies no padding: nothing to fix.

def _valid_taps(count, size, taps, stride, dilation, lo):
    """For each kernel tap t along one axis: the range [first, end) of output
    indices o whose input coordinate o*stride + t*dilation - lo is inside
    [0, size) (as cx_valid_range); outputs outside it read the padding."""
    off = np.arange(taps, dtype=np.int64) * dilation - lo
    first = np.where(off >= 0, 0, (stride - 1 - off) // stride)
    end = np.where(size - off <= 0, 0, (size - off + stride - 1) // stride)
    first = np.minimum(first, count)
    end = np.maximum(np.minimum(end, count), first)
    return first, end


def _reads_padding(geo):
    """Does any output pixel have a kernel tap over the padding? (pure int arithmetic)"""
    (top, _), (left, _) = geo.padding
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    return geo.P > 0 and geo.Q > 0 and (
        top > 0 or (geo.P - 1) * sh + (geo.R - 1) * dh - top >= geo.H
        or left > 0 or (geo.Q - 1) * sw + (geo.S - 1) * dw - left >= geo.W)


def _tap_ranges(geo):
    rows = _valid_taps(geo.P, geo.H, geo.R, geo.stride[0], geo.dilation[0], geo.padding[0][0])
    cols = _valid_taps(geo.Q, geo.W, geo.S, geo.stride[1], geo.dilation[1], geo.padding[1][0])
    return rows, cols


def _padding_nan_forward(y4, w, geo):
    """y4 (N, K, P, Q): NaN where a non-finite weight tap falls on the padding."""
    if not _reads_padding(geo) or np.isfinite(w).all():
        return
    bad = ~np.isfinite(w.reshape(geo.weight_shape))
    (rf, re), (cf, ce) = _tap_ranges(geo)
    badr = bad.any(axis=(1, 3))     # (K, R): a non-finite weight in kernel row r
    bads = bad.any(axis=(1, 2))     # (K, S)
    lo_r = np.where(badr, rf, 0).max(axis=1)
    hi_r = np.where(badr, re, geo.P).min(axis=1)
    lo_c = np.where(bads, cf, 0).max(axis=1)
    hi_c = np.where(bads, ce, geo.Q).min(axis=1)
    p = np.arange(geo.P)
    q = np.arange(geo.Q)
    rows = (p < lo_r[:, None]) | (p >= hi_r[:, None])          # (K, P)
    cols = (q < lo_c[:, None]) | (q >= hi_c[:, None])          # (K, Q)
    mask = rows[:, :, None] | cols[:, None, :]                 # (K, P, Q)
    if mask.any():
        y4[:, mask] = np.nan


def _padding_nan_weight(dw, gy4, geo):
    """dw (K, C/groups, R, S): NaN where a non-finite grad_output meets the padding."""
    if not _reads_padding(geo) or gy4.size == 0:
        return
    (rf, re), (cf, ce) = _tap_ranges(geo)
    P, Q, K = geo.P, geo.Q, geo.K
    top, bottom, left, right = int(rf.max()), int(re.min()), int(cf.max()), int(ce.min())
    if (top, bottom, left, right) == (0, P, 0, Q) or gy4.size == 0:
        return                      # no tap reads the padding
    # rows / columns of grad_output (any image) holding a non-finite value,
    # looked for only in the border that some tap reads over the padding
    rowbad = np.zeros((K, P), bool)
    colbad = np.zeros((K, Q), bool)
    for sl in (slice(0, top), slice(max(bottom, top), P)):
        if sl.stop > sl.start:
            rowbad[:, sl] = (~np.isfinite(gy4[:, :, sl, :])).any(axis=(0, 3))
    for sl in (slice(0, left), slice(max(right, left), Q)):
        if sl.stop > sl.start:
            colbad[:, sl] = (~np.isfinite(gy4[:, :, :, sl])).any(axis=(0, 2))
    if not (rowbad.any() or colbad.any()):
        return
    # tap r reads the padding for output rows [0, rf[r]) and [re[r], P)
    rc = np.zeros((K, P + 1), np.int64)
    np.cumsum(rowbad, axis=1, out=rc[:, 1:])
    cc = np.zeros((K, Q + 1), np.int64)
    np.cumsum(colbad, axis=1, out=cc[:, 1:])
    nan_r = (rc[:, rf] > 0) | (rc[:, P:] - rc[:, re] > 0)      # (K, R)
    nan_s = (cc[:, cf] > 0) | (cc[:, Q:] - cc[:, ce] > 0)      # (K, S)
    k, r, s = np.nonzero(nan_r[:, :, None] | nan_s[:, None, :])
    dw[k, :, r, s] = np.nan


# Vector lanes of the direct kernels per SIMD path (bytes / itemsize).
_VECTOR_BYTES = {"avx512": 64, "avx2": 32, "generic": 16}
_CHANNEL_TILES = {}


def _channel_tiles(dtype):
    """Does the active path have the direct forward's channel-vector tiles for
    dtype (16-lane vectors, a compiler with shufflevector)? Asked of the C plan
    once per (path, dtype): a 4x4 image with 16 channels in and out."""
    key = (_conv.active_isa(), np.dtype(dtype).char)   # (.name is slow: a hot path)
    if key not in _CHANNEL_TILES:
        geo = (1, 16, 4, 4, 16, 1, 1, 4, 4, 1, 1, 1, 1, 0, 0, 1)
        _CHANNEL_TILES[key] = _conv.plan_info(geo, "fwd", "direct", dtype)["dk_mode"] == 2
    return _CHANNEL_TILES[key]


def _sliding_tiles(op, geo, dtype, any_width=False):
    """Will the direct forward / weight gradient ("fwd" / "wgrad") of geo run the
    sliding channel-vector tiles (16 output channels a vector, kernel rows of
    3, 5 or 7 taps, stride and dilation 1 along the row, where the plan's
    band fits)? They run near the FMA peak, ahead of the GEMM on such layers.
    Forwards on rows the tiles divide badly count only with any_width."""
    if not (geo.K // geo.groups % 16 == 0 and geo.stride[1] == 1 and geo.dilation[1] == 1
            and geo.S in (3, 5, 7) and _channel_tiles(dtype)):
        return False
    info = _conv.plan_info(geo.astuple(), op, "direct", dtype)
    if info["dk_mode"] != 2:
        return False
    if op == "fwd" and geo.Q > 16 and not any_width:
        # rows the tiles do not divide well run well below the peak (the
        # planner's model, cx_direct_impl.h: lanes used x c / (c + 5)): 30-wide
        # rows at c = 12 ran 423 GFLOP/s against the GEMM's 452 (vgg-like 3x3,
        # 512 channels, 2 threads), 26-wide at c = 14 468 against 453
        c = info["dk_tile"][1]
        rate = geo.Q / (-(-geo.Q // c) * c) * c / (c + 5)
        return rate >= 0.9 * 14 / 19
    return True


def _eight_lane_tiles(geo, dtype, op="fwd"):
    """Will the direct forward (weight gradient: op="wgrad") of geo run AVX2's
    8-lane channel-vector tiles (8 output channels a vector, float32, kernel
    rows of 3, 5 or 7 contiguous taps; the forward's where the plan finds them
    filling more lanes than the pixel tiles)?"""
    if not (_conv.active_isa() == "avx2" and np.dtype(dtype) == np.float32
            and geo.K // geo.groups % 8 == 0 and geo.stride[1] == 1
            and geo.dilation[1] == 1 and geo.S in (3, 5, 7)):
        return False
    return _conv.plan_info(geo.astuple(), op, "direct", dtype)["dk_mode"] == 2


def _halves_tiles(geo, dtype):
    """Will the direct forward of geo run, on AVX-512, the AVX2 path's 8-lane
    channel-vector tiles (8 output channels a vector, float32) because this CPU
    runs 512-bit FMAs as two 256-bit halves (Zen 4; cx_conv_dispatch.c)?"""
    if not (_conv.active_isa() == "avx512" and np.dtype(dtype) == np.float32
            and geo.K // geo.groups % 8 == 0 and geo.stride[1] == 1
            and geo.dilation[1] == 1 and geo.S in (3, 5, 7)):
        return False
    return _conv.plan_info(geo.astuple(), "fwd", "direct", dtype)["path"] == "avx2"


def _dgrad_forward_geometry(geo):
    """The stride-1 input gradient of geo as the forward it runs as (see
    _conv._dgrad_as_forward): grad_output padded by (R-1)*dh - top (and so on)
    convolved with the flipped, transposed weight, K and C exchanged."""
    (pt, pb), (pl, pr) = geo.padding
    dh, dw = geo.dilation
    top, left = (geo.R - 1) * dh - pt, (geo.S - 1) * dw - pl
    return Geometry(geo.N, geo.K, geo.P, geo.Q, geo.C, geo.R, geo.S, geo.H, geo.W, (1, 1),
                    geo.dilation,
                    ((top, geo.H - geo.P + (geo.R - 1) * dh - top),
                     (left, geo.W - geo.Q + (geo.S - 1) * dw - left)), geo.groups)


def _auto_rule(op, geo, dtype=np.float32, fft=True, threads=1):
    """(algorithm, reason): the choice of algorithm="auto" and why (see explain);
    reason is a function returning the words (built only when asked for).

    Measured over bench/shapes.txt and bench/sweep_shapes.txt (bench/auto_sweep.py,
    bench/README.md): the register-blocked direct kernels win on thin and
    medium layers and (with channel-vector tiles) on rows of at most 16 pixels
    with channels in blocks of 16 and on forwards with output channels in blocks
    of 16 and kernel rows of 3, 5 or 7 contiguous taps (the sliding tiles, when
    the plan takes them; weight gradients too), the packed GEMM (im2col) where a layer is
    wide, where its output rows leave most vector lanes idle, on 1x1 stride-1
    layers (read in place) and on strided input gradients (the direct one is a
    plain scatter).
    """
    if fft and geo.stride == (1, 1) and geo.R * geo.S >= 16:
        from . import _fft
        use, why = _fft.fft_preferred(op, geo, np.dtype(dtype), threads=threads)
        if use:
            return "fft", lambda: why
    Cg = geo.C // geo.groups
    Kg = geo.K // geo.groups
    crs = Cg * geo.R * geo.S
    sh, sw = geo.stride
    lanes = _VECTOR_BYTES.get(_conv.active_isa(), 16) // np.dtype(dtype).itemsize
    pointwise = (geo.R == geo.S == 1 and geo.stride == (1, 1)
                 and geo.padding == ((0, 0), (0, 0)))
    # AVX2 has 16 vector registers: the direct tiles hold 8-12 accumulators
    # (4 channels x 2 vectors in the forward) where AVX-512's hold up to 32,
    # and channel-vector tiles only in 8 lanes (float32, kernel rows of 3, 5 or
    # 7 taps; avx2_channel_vectors below), so the GEMM's 6 x 16 tile wins on
    # other medium layers there (bench/auto_sweep.py on a Zen 3, bench/README.md
    # session 11: res3x3_64's forward and input gradient 1.4-1.7x faster on
    # the GEMM; 3 -> 16-channel forwards, thin strided weight gradients the
    # other way round; 1-D layers (kernel height 1) keep the direct column tiles)
    avx2 = _conv.active_isa() == "avx2"

    def pointwise_tiles(cin, cout):
        # 1x1 layers on rows of at most one vector of pixels, >= 64 channels in
        # and out: the channel-vector tiles (16 output channels a vector) beat
        # the GEMM, whose per-image pixel panels are narrow (AVX-512 float32,
        # session 22, im2col / direct paired at 1 | 2 threads, /tmp/t/pw_ab.py:
        # 8 x 512 -> 128 x 7^2 forward 1.50 | 1.60, input gradient 1.58 | 1.03;
        # 8 x 2048 -> 512 x 7^2 1.89 | 1.59, 1.56 | 1.48; 8 x 256 -> 256 x 14^2
        # 1.22 | 1.29, 1.14 | 1.29; 8 x 1024 -> 256 x 14^2 1.17 | 1.21, 1.15 |
        # 1.18; 32 x 64 -> 64 x 14^2 1.19 | 1.20, 1.17 | 1.27. Not with 32 or 16
        # channels on a side: 8 x 32 -> 32 x 14^2 0.89-0.93, 64 -> 32 x 16^2
        # 0.85-0.87, the input gradient of 16 -> 64 x 7^2 0.81. Weight
        # gradients stay on the GEMM: 0.10-0.73. Wider rows too: within
        # 10-15% either way, 0.82-1.16, on 28^2 and 56^2 images.)
        # (measured on a Zen 4, whose 512-bit FMAs run as halves; on a Zen 5
        # the GEMM from 14-pixel rows, session 35, im2col / direct paired at
        # 1 | 2 threads: 8 x 256 -> 256 x 14^2 0.78 | 0.83 forward, 0.87 |
        # 0.89 input gradient, 8 x 1024 -> 256 x 14^2 0.73 | 0.82, 0.85 |
        # 0.93, 32 x 64 -> 64 x 14^2 0.88 | 0.90, 0.95 | 0.90; on 7-pixel
        # rows still the tiles: 8 x 512 -> 128 x 7^2 1.00 | 1.02, 1.23 | 1.25,
        # 8 x 2048 -> 512 x 7^2 1.25 | 1.10, 1.23 | 1.01)
        q = geo.W if op == "dgrad" else geo.Q
        widest = 16 if _conv.cpu_avx512_halves() else 8
        return (not avx2 and q <= widest and cin >= 64 and cout >= 64 and cout % 16 == 0
                and _channel_tiles(dtype))

    def lane_use(width):
        return width / (-(-width // lanes) * lanes) if width > 0 else 1.0

    def avx2_gemm(channels, reduction, width, strided=False):
        # the AVX2 forward (and the stride-1 input gradient, a forward of
        # grad_output) of a 2-D kernel: the GEMM from 16 channels and a
        # reduction of 144 -- 256 on rows of one vector, whose denser direct
        # tiles kept c16k16 on 7 x 7 images 1.14-1.21x ahead; 512 strided
        # (c32k32_3x3s2 ran 1.2x faster direct); never 1-D rows, whose
        # column tiles won (conv1d_audio 190 against 240 ms)
        return (avx2 and geo.R > 1 and channels >= 16 and reduction >=
                (512 if strided else 144 if width > lanes else 256))

    def avx2_two_vectors(channels, width):
        # ... except on rows of two vectors from at most 128 channels, where
        # the direct 4 x 1 x 2 tiles use 14 of 16 lanes (c128k128_3x3 on 14 x 14
        # images: direct 1.18-1.30x faster, forward and input gradient, three
        # sweeps in session 12, nine of ten in session 11; res3x3_256's 256
        # channels within 10% either way: the GEMM, as on wide layers)
        return (avx2 and geo.R > 1 and 16 <= channels <= 128
                and lanes < width <= 2 * lanes)

    def avx2_channel_vectors(channels, width, fgeo):
        # AVX2's 8-lane channel-vector tiles (float32) beat the GEMM on rows of
        # up to two vectors and, from at most 64 channels, of up to four
        # (bench/README.md, session 16, im2col / direct paired at 1 thread:
        # c64k64 on 7 x 7 1.52 / 1.38 (forward / input gradient), c128k128 on
        # 14 x 14 1.36 / 1.31, c32k32 on 28 x 28 1.25 / 1.21, res3x3_256 1.04
        # -1.29; vgg3x3_512's 512 channels on 28-pixel rows 0.75-0.86 and the
        # 56-pixel rows of res3x3_64 0.91-0.93: the GEMM there)
        # (and from 16 channels on any width: c16k16 on 56-pixel rows 1.06-1.17
        # forward, 1.04-1.11 input gradient, in three runs at 1 and 2 threads)
        # (3-tap kernel rows of any width from up to 128 channels since the
        # 12-pixel tile runs in assembly, session 17, im2col / direct at 1 | 2
        # threads: res3x3_64 1.05 | 1.08 forward, 1.05 | 1.09 input gradient;
        # latency1 1.07 | 1.14, 1.17 | 1.23; b1_c32k32 1.26 | 1.09, 1.22 |
        # 1.12; c128k128 on 56 x 56 1.29 | 1.21, c64k64 on 40 x 40 1.11 | 1.14;
        # 256 channels on 56 x 56 0.97 | 1.05: the GEMM from there)
        return (avx2 and (width <= 2 * lanes or (width <= 4 * lanes and channels <= 64)
                          or channels <= 16 or (fgeo.S == 3 and channels <= 128))
                and _eight_lane_tiles(fgeo, dtype))

    if pointwise and avx2 and Cg <= 32 and Kg <= 32 and op != "wgrad":
        # (session 16's sweeps timed the GEMM 1.25 | 1.45x faster on c32k32_1x1
        # at 1 | 2 threads, while loops in other processes timed it at half
        # that speed, 0.6-0.7x the direct tiles, whose speed did not move: the
        # 1x1 GEMM reads the image in place and its speed depends on where the
        # process's pages land; the direct tiles are the safer pick)
        return "direct", lambda: (f"1x1 layer of {Cg} -> {Kg} channels per group on AVX2: "
                                  f"the direct tiles (c32k32_1x1 ran 1.2-1.8x faster than "
                                  f"the GEMM, whose reduction is too short to pay for its "
                                  f"tile's loads and stores)")
    if op == "dgrad" and (sh, sw) != (1, 1):
        if Kg < 4 or crs < 16:
            return "direct", lambda: (f"strided input gradient of a thin layer ({Kg} "
                                      f"output channel(s) per group, reduction {crs})")
        return "im2col", lambda: ("strided input gradient: GEMM + col2im (the direct one "
                                  "scatters)")
    if op == "dgrad":
        # a stride-1 forward of grad_output with the transposed weight:
        # Cg output rows, a reduction of Kg*R*S, output rows of W pixels
        if Cg == 1 and Kg >= 32 and (threads > 1 or avx2):
            # (AVX-512: on one thread the direct tiles walked by input row win
            # since session 8, c1k32_3x3 1.13-1.14x; on two the GEMM, 0.96-1.2x.
            # AVX2, session 11: the GEMM at 1 thread too, 1.46x in the first sweep,
            # the direct tiles 1.39x ahead in one later sweep, within 10% in the
            # last ones)
            # (AVX-512 float32 on two threads, session 22, im2col / direct
            # paired, /tmp/t/dg_ab.py: rows of 24-32 pixels, which two vectors
            # hold at >= 75%, with 32-48 output channels, 3x3 or 5x5: 1.09-1.23,
            # c1k32_3x3 1.13-1.19; rows of 20 pixels 0.93, 40 0.50, 56 0.79,
            # 64 channels 0.72, 7x7 0.69: the direct tiles on the first only)
            if (not avx2 and lanes == 16 and Kg < 64 and geo.R <= 5 and geo.S <= 5
                    and 24 <= geo.W <= 2 * lanes):
                return "direct", lambda: (f"one input channel per group from {Kg} output "
                                          f"channels on rows of {geo.W} pixels (two vectors, "
                                          f"mostly full): direct tiles")
            return "im2col", lambda: (f"one input channel per group from {Kg} output "
                                      f"channels on {threads} threads: the packed GEMM "
                                      f"(measured faster there)")
        if Kg < 4 or Kg * geo.R * geo.S < 16:
            return "direct", lambda: (f"{Kg} output channel(s) per group, reduction "
                                      f"{Kg * geo.R * geo.S}: a GEMM tile would be mostly "
                                      f"empty")
        # (and from 32-64 channels to at least twice as many, over >= 20000
        # pixels of any width: the GEMM's reduction of 32-64 per C tile pays
        # its loads and stores often; session 24, im2col / direct paired at
        # 1 | 2 threads, /tmp/t/pw_dg.py: res1x1's 64 -> 256 on 8 x 56^2
        # 1.09 | 1.13, 32 x 28^2 1.07 | 1.09, 32 -> 128 on 8 x 56^2 1.15 |
        # 1.06, 64 -> 128 1.18 | 1.12; not on 8 x 28^2 (6272 pixels) 0.90 |
        # 0.83, nor from 128 channels 0.97 | 0.89 or 16 0.86 | 0.66, nor 64
        # -> 64 (1.28 | 0.98))
        # (on a Zen 4, whose 512-bit FMAs run as halves; on a Zen 5 the GEMM
        # won all four, session 35, direct / im2col paired at 1 | 2 threads:
        # res1x1's 64 -> 256 on 8 x 56^2 1.22 | 1.29, 32 x 28^2 1.18 | 1.18,
        # 32 -> 128 on 8 x 56^2 1.33 | 1.29, 64 -> 128 1.24 | 1.24)
        expand = (not avx2 and 32 <= Kg <= 64 and Cg >= 2 * Kg and Cg % 16 == 0
                  and geo.N * geo.H * geo.W >= 20000 and _channel_tiles(dtype)
                  and _conv.cpu_avx512_halves())
        if pointwise and not ((pointwise_tiles(Kg, Cg)
                               and (threads == 1 or geo.N * geo.H * geo.W >= 256)) or expand):
            return "im2col", lambda: ("1x1 stride-1 convolution: a plain GEMM on "
                                      "grad_output in place")
        if pointwise:
            return "direct", lambda: (f"1x1 convolution from {Kg} to {Cg} channels on rows "
                                      f"of {geo.W} pixels: the forward of grad_output on the "
                                      f"direct channel-vector tiles")
        if avx2_channel_vectors(min(Kg, Cg), geo.W, _dgrad_forward_geometry(geo)):
            return "direct", lambda: (f"{Cg} input channels per group (8 a vector) on rows "
                                      f"of {geo.W} pixels on AVX2: the forward of "
                                      f"grad_output on the direct channel-vector tiles")
        if avx2_two_vectors(Cg, geo.W):
            return "direct", lambda: (f"{Cg} input channels per group on rows of {geo.W} "
                                      f"pixels on AVX2: the direct tiles fill "
                                      f"{lane_use(geo.W):.0%} of two vectors")
        if avx2_gemm(Cg, Kg * geo.R * geo.S, geo.W):
            return "im2col", lambda: (f"{Cg} input channels per group from a reduction of "
                                      f"{Kg * geo.R * geo.S} on AVX2 (16 vector registers): "
                                      f"the packed GEMM's tile reuses more of each load")
        if geo.W <= 16 and Cg % 16 == 0 and _channel_tiles(dtype):
            return "direct", lambda: (f"rows of {geo.W} pixels, {Cg} input channels per "
                                      f"group: direct channel-vector tiles")
        if Cg % 16 == 0 and _sliding_tiles("fwd", _dgrad_forward_geometry(geo), dtype):
            return "direct", lambda: (f"{Cg} input channels per group, kernel rows of "
                                      f"{geo.S} taps: the forward of grad_output on the "
                                      f"direct sliding channel-vector tiles")
        if Cg >= 128 or Kg * geo.R * geo.S > 1024:
            return "im2col", lambda: (f"wide layer ({Cg} input channels per group): "
                                      f"packed GEMM")
        if _halves_tiles(_dgrad_forward_geometry(geo), dtype):
            # (session 24, im2col / direct at 1 thread, 3x3: 8 <- 8 and 16
            # channels on 7-pixel rows 2.29 and 2.62, on 10 1.51, 20 1.26)
            return "direct", lambda: (f"{Cg} input channels per group (8 a vector) on rows "
                                      f"of {geo.W} pixels: the forward of grad_output on "
                                      f"AVX2's 8-lane channel-vector tiles (this CPU runs "
                                      f"512-bit FMAs as two halves)")
        if lane_use(geo.W) < 0.75:
            return "im2col", lambda: (f"rows of {geo.W} pixels fill "
                                      f"{lane_use(geo.W):.0%} of {lanes}-lane vectors")
        return "direct", lambda: (f"{Cg} input channels per group, rows of {geo.W} "
                                  f"pixels: register-blocked direct kernels")
    if Kg < 4 or crs < 16:
        return "direct", lambda: (f"{Kg} output channel(s) per group, reduction "
                                  f"C/groups*R*S = {crs}: a GEMM tile would be mostly empty")
    if pointwise and op == "fwd" and pointwise_tiles(Cg, Kg):
        return "direct", lambda: (f"1x1 convolution from {Cg} to {Kg} channels on rows of "
                                  f"{geo.Q} pixels: direct channel-vector tiles")
    if pointwise:
        return "im2col", lambda: "1x1 stride-1 convolution: a plain GEMM on the input in place"
    if op == "wgrad":
        if avx2 and geo.Q <= 2 * lanes and _eight_lane_tiles(geo, dtype, "wgrad"):
            # (rows of up to two vectors: im2col / direct paired, session 16,
            # res3x3_256 1.08 | 1.28 at 1 | 2 threads, c128k128 0.97 | 0.96)
            return "direct", lambda: (f"{Kg} output channels per group (8 a vector) on rows "
                                      f"of {geo.Q} pixels on AVX2: direct channel-vector "
                                      f"tiles")
        if (Kg >= 128 and geo.Q <= 16 and geo.N * geo.P * geo.Q >= 1024 and not avx2
                and geo.padding != ((0, 0), (0, 0)) and _sliding_tiles(op, geo, dtype)):
            # (since the channel-vector tiles leave zero padding's products
            # out, f22a0bf: 3x3 pad 1, im2col / direct paired, 1 | 2 threads:
            # 8 x 256 x 14^2 1.10 | 1.32, 8 x 128 x 14^2 1.07 | 1.21, 16 x 256
            # x 7^2 1.31 | 1.43, 6 x 256 x 14^2 1.07 at 1; below ~1000 output
            # pixels the GEMM: 4 x 128 x 14^2 0.86 | 0.95, 4 x 256 x 14^2
            # 0.99 | 1.03)
            return "direct", lambda: (f"{Kg} output channels per group on rows of {geo.Q} "
                                      f"pixels, {geo.N * geo.P * geo.Q} output pixels: direct "
                                      f"channel-vector tiles (zero padding left out)")
        if Kg >= 128:
            return "im2col", lambda: (f"{Kg} output channels per group: the GEMM shares "
                                      f"each packed column row among all of them")
        if (sh, sw) != (1, 1):
            # strided weight gradients, measured over C in {3, 8, 16, 32}, K in
            # {32, 64}, 3x3 and 7x7, output rows of 28..64 pixels at 1 and 2
            # threads (bench/README.md, session 8): the direct tiles win only on
            # thin inputs, with wide output rows or (2 threads) few outputs
            if Cg <= 8 and (avx2 or (geo.Q >= 64 and (Cg <= 4 or Kg <= 32))):
                return "direct", lambda: (f"strided weight gradient of {Cg} input channels "
                                          f"per group on rows of {geo.Q} pixels: direct tiles")
            if Cg <= 4 and Kg < 64 and threads > 1:
                return "direct", lambda: (f"strided weight gradient of {Cg} input channels "
                                          f"to {Kg} outputs per group on {threads} threads: "
                                          f"direct tiles")
            return "im2col", lambda: (f"strided weight gradient of {Cg} input channels to "
                                      f"{Kg} outputs per group, rows of {geo.Q} pixels: the "
                                      f"packed GEMM (measured faster there)")
        if _sliding_tiles(op, geo, dtype):
            return "direct", lambda: (f"{Kg} output channels per group, kernel rows of "
                                      f"{geo.S} taps: direct channel-vector tiles")
        # (AVX2, session 12: one image of 32 channels back to the direct tiles,
        # b1_c32k32's 1.17-1.22x faster after their lane sums were vectorised;
        # latency1's 64 within 10% either way)
        # (AVX2, session 17, one image of 64 channels, 3x3, im2col / direct
        # paired at 1 | 2 threads: 28 x 28 0.67 | 0.70, 40 x 40 0.88 | 0.92,
        # 56 x 56 (latency1) 1.00 | 1.10, 112 x 112 1.22 | 1.23: the tiles
        # from 3000 output pixels)
        if ((geo.N == 1 and Kg >= (64 if avx2 else 32) and crs >= 128
             and not (avx2 and geo.P * geo.Q >= 3000))
                or (Kg >= 64 and crs >= 512 and geo.P * geo.Q < 3000 and not avx2)):
            return "im2col", lambda: (f"{Kg} output channels per group x reduction {crs} "
                                      f"over {geo.N} image(s) of {geo.P * geo.Q} pixels: "
                                      f"the GEMM's tiles are full")
        return "direct", lambda: (f"{Kg} output channels per group, {crs} taps: "
                                  f"register-blocked direct tiles")
    if op == "fwd" and avx2_channel_vectors(min(Kg, Cg), geo.Q, geo):
        return "direct", lambda: (f"{Kg} output channels per group (8 a vector) on rows of "
                                  f"{geo.Q} pixels on AVX2: direct channel-vector tiles")
    if avx2_two_vectors(min(Kg, Cg), geo.Q) and (sh, sw) == (1, 1):
        return "direct", lambda: (f"{Kg} output channels per group on rows of {geo.Q} "
                                  f"pixels on AVX2: the direct tiles fill "
                                  f"{lane_use(geo.Q):.0%} of two vectors")
    if avx2_gemm(min(Kg, Cg), crs, geo.Q, (sh, sw) != (1, 1)):
        return "im2col", lambda: (f"{Kg} output channels per group, reduction {crs} on "
                                  f"AVX2 (16 vector registers): the packed GEMM's tile "
                                  f"reuses more of each load")
    if Kg == 16 and crs <= 32 and geo.stride == (1, 1) and not avx2:
        # (not the forward on the sliding tiles, on rows of any width, since
        # their broadcasts went into the FMAs, 27f7ff7: im2col / direct paired
        # at 1 | 2 threads, b1_c3k16 1.14 | 1.36, c3k16_3x3 1.07 | 1.60,
        # c1k16_5x5 (32-wide rows, 12-pixel tiles) 1.08 | 1.16)
        if op == "fwd" and _sliding_tiles(op, geo, dtype, any_width=True):
            return "direct", lambda: (f"16 output channels and a reduction of {crs}, "
                                      f"kernel rows of {geo.S} taps: direct sliding "
                                      f"channel-vector tiles")
        return "im2col", lambda: (f"16 output channels (one channel vector) and a "
                                  f"reduction of {crs}: the GEMM's 8 x 48 tiles reuse "
                                  f"more of each load")
    if geo.Q <= 16 and Kg % 16 == 0 and _channel_tiles(dtype):
        return "direct", lambda: (f"output rows of {geo.Q} pixels, {Kg} output channels "
                                  f"per group: direct channel-vector tiles")
    if op == "fwd" and _sliding_tiles(op, geo, dtype):
        return "direct", lambda: (f"{Kg} output channels per group, kernel rows of {geo.S} "
                                  f"taps: direct sliding channel-vector tiles")
    if Kg >= 128 or crs > 1024:
        return "im2col", lambda: (f"wide layer ({Kg} output channels, reduction {crs}): "
                                  f"packed GEMM")
    if op == "fwd" and _halves_tiles(geo, dtype):
        # (session 24, im2col / direct at 1 thread, 3x3: 8 -> 8 and 16 -> 8
        # channels on 7-pixel rows 2.22 and 2.28, on 10 1.48, 20 1.21)
        return "direct", lambda: (f"{Kg} output channels per group (8 a vector) on rows of "
                                  f"{geo.Q} pixels: AVX2's 8-lane channel-vector tiles "
                                  f"(this CPU runs 512-bit FMAs as two halves)")
    if lane_use(geo.Q) < 0.75:
        return "im2col", lambda: (f"output rows of {geo.Q} pixels fill "
                                  f"{lane_use(geo.Q):.0%} of {lanes}-lane vectors")
    return "direct", lambda: (f"{Kg} output channels per group, reduction {crs}, rows of "
                              f"{geo.Q} pixels: register-blocked direct kernels")


def _direct_has_kernels(op, geo, dtype):
    """Will the direct algorithm run its register-blocked kernels (not the
    plain loops)? They hold whole input rows in a band of about 2 MiB: rows
    too long for that (long 1-D signals) leave only the plain loops."""
    if op == "dgrad":
        if geo.stride != (1, 1):
            return True     # the strided input gradient is a scatter either way
        N, C, H, W, K, R, S, P, Q, _, _, dh, dw, pt, pl, G = geo.astuple()
        g = (N, K, P, Q, C, R, S, H, W, 1, 1, dh, dw, (R - 1) * dh - pt, (S - 1) * dw - pl, G)
        return _conv.plan_info(g, "fwd", "direct", dtype)["direct_kernels"]
    return _conv.plan_info(geo.astuple(), op, "direct", dtype)["direct_kernels"]


def _auto_rule_checked(op, geo, dtype=np.float32, fft=True, threads=1):
    """_auto_rule, with "direct" turned to "im2col" where the direct kernels
    cannot run (their band would not fit) on a layer wide enough for the GEMM."""
    algo, why = _auto_rule(op, geo, dtype, fft, threads)
    if algo == "direct" and math.prod(geo.output_shape) and math.prod(geo.input_shape):
        Kg, Cg = geo.K // geo.groups, geo.C // geo.groups
        wide = min(Kg, Cg) >= 4 and Cg * geo.R * geo.S >= 16
        if wide and not _direct_has_kernels(op, geo, np.dtype(dtype)):
            return "im2col", lambda: (f"rows of {geo.W} pixels x {Cg} channels are too long "
                                      f"for the direct kernels' band: packed GEMM")
    return algo, why


_AUTO = {}


def _auto(op, geo, dtype=np.float32, threads=1):
    """The algorithm "auto" picks (see _auto_rule; memoised per path)."""
    key = (op, geo, np.dtype(dtype).char, threads, _conv.active_isa())
    algo = _AUTO.get(key)
    if algo is None:
        algo = _remember(_AUTO, key, _auto_rule_checked(op, geo, dtype, threads=threads)[0])
    return algo


def _resolve_algorithm(algorithm, op, geo, dtype, threads=1):
    algorithm = _algorithm(algorithm)
    if algorithm == "fft" and geo.stride != (1, 1):
        raise ValueError(f"algorithm='fft' needs stride 1, got stride {geo.stride}; use "
                         f"'auto', 'direct' or 'im2col' for strided convolutions")
    return _auto(op, geo, dtype, threads) if algorithm == "auto" else algorithm


def _finite(*arrays):
    """Are all elements of the arrays finite? One sum per array: inf and NaN
    propagate into it; a sum that overflows from finite values also answers
    False, which only sends the call to an exact algorithm."""
    with np.errstate(over="ignore", invalid="ignore"):
        return all(bool(np.isfinite(a.sum())) for a in arrays)


def _exact_algorithm(op, geo, dtype):
    """The algorithm that runs instead of the FFT on inputs holding inf or NaN
    (the FFT would spread them over the whole result)."""
    return _auto_rule_checked(op, geo, dtype, fft=False)[0]


_LAYOUTS = ("NCHW", "NHWC")


def _channels_last(layout, names=_LAYOUTS):
    """Is layout (one of names: channels first, channels last) the channels-last one?"""
    if not isinstance(layout, str):
        raise TypeError(f"layout must be a string, one of {names}, got {layout!r} of type "
                        f"{type(layout).__name__}")
    if layout not in names:
        raise ValueError(f"layout must be one of {names}, got {layout!r}")
    return layout == names[1]


def _to_nchw(shape):
    """An NHWC shape (N, H, W, C) as (N, C, H, W)."""
    return (shape[0], shape[3], shape[1], shape[2])


def _to_nhwc(shape):
    """An NCHW shape (N, C, H, W) as (N, H, W, C)."""
    return (shape[0], shape[2], shape[3], shape[1])


def _nhwc_algorithm(algorithm):
    """Validate algorithm for a channels-last call (which runs the NHWC kernels)."""
    algorithm = _algorithm(algorithm)
    if algorithm == "fft":
        raise ValueError("algorithm='fft' is not available with layout='NHWC' (use NCHW, or "
                         "'auto', 'direct' or 'im2col', which run the channels-last kernels)")
    return algorithm


_PAD_CODES = {"zeros": 0, "reflect": 1, "replicate": 2, "circular": 3}


def _mode_in_kernels(op, algorithm, geo, dtype, nthreads):
    """Can the kernels fill the padding mode themselves? The register-blocked
    direct kernels copy every input row they read into a band anyway; they
    fill the padding with the mode's pixels instead of zeros (forward and
    weight gradient), so no padded copy of the input is made."""
    algo = _resolve_algorithm(algorithm, op, geo, dtype, nthreads)
    return algo == "direct" and _conv.plan_info(geo.astuple(), op, "direct",
                                                dtype)["direct_kernels"]


def _kernel_pad_code(op, mode, geo, last, algorithm, dtype, nthreads):
    """The padding-mode code the direct kernels fill into their bands for op
    ("fwd" or "wgrad"): 0 when the padding is zeros (or there is none), None
    when the input must be padded explicitly."""
    if mode == "zeros" or geo.padding == ((0, 0), (0, 0)):
        return 0
    _padded_geometry(geo, mode)
    if not last and _mode_in_kernels(op, algorithm, geo, dtype, nthreads):
        return _PAD_CODES[mode]
    return None


def _pad_input(x, geo, mode, dtype, last=False):
    """x padded explicitly as padding_mode says (checked against memory first)."""
    _check_size("the padded input", (geo.N, geo.C, geo.H + sum(geo.padding[0]),
                                     geo.W + sum(geo.padding[1])), dtype)
    return _padmode.pad(x, geo.padding, mode, dtype, channels_last=last)


def _padded_geometry(geo, mode, name="input"):
    """Check that geo's padding is legal for padding_mode ``mode``."""
    _padmode.check_pads(mode, (geo.H, geo.W), geo.padding, name, ("height", "width"))


_OP_NAMES = {"fwd": "fwd", "forward": "fwd", "wgrad": "wgrad", "weight": "wgrad",
             "dgrad": "dgrad", "input": "dgrad"}
for _d in ("1d", "2d", "3d"):
    _OP_NAMES.update({f"conv{_d}": "fwd", f"conv{_d}_weight": "wgrad",
                      f"conv{_d}_input": "dgrad"})
del _d


@dataclass(frozen=True)
class Explanation:
    """What ``algorithm="auto"`` runs for one call, and why (see :func:`explain`)."""

    op: str
    algorithm: str
    reason: str
    features: dict

    def __str__(self):
        feats = ", ".join(f"{k}={v}" for k, v in self.features.items())
        return f"{self.op}: auto -> {self.algorithm} ({self.reason}) [{feats}]"


def explain(op, input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *,
            dtype=np.float32, threads=None):
    """Which algorithm ``algorithm="auto"`` picks for a call, and why.

    Parameters
    ----------
    op : {"conv2d", "conv2d_weight", "conv2d_input"} (or "fwd", "wgrad", "dgrad")
        The operation ("conv1d..." and "conv3d..." name the same three).
    input_shape, weight_shape : tuple of int
        ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) and ``(K, C/groups, R, S)``, as
        the arrays the call would receive. A 3-entry weight shape ``(K, C/groups,
        S)`` explains a 1-D call (input ``(N, C, L)``), a 5-entry one a 3-D call
        (input ``(N, C, D, H, W)``): the answer is then about the 2-D call that
        computes it (see :func:`conv1d`, :func:`conv3d`).
    stride, padding, dilation, groups
        As for :func:`conv2d`.
    dtype : numpy dtype, default float32
        The computation's dtype (after convx's promotion rules).
    threads : int, optional
        As for :func:`conv2d` (it matters only when im2col's workspace would not
        fit in memory, then "auto" runs the direct algorithm).

    Returns
    -------
    Explanation
        ``.algorithm`` ("direct", "im2col" or "fft"), ``.reason`` (the rule that decided,
        in words) and ``.features`` (the shape features it looked at); ``str()``
        gives all three on one line.

    Examples
    --------
    >>> import convx
    >>> convx.explain("conv2d", (8, 128, 56, 56), (128, 1, 3, 3), padding=1,
    ...               groups=128).algorithm
    'direct'
    """
    if not isinstance(op, str) or op not in _OP_NAMES:
        raise ValueError(f"op must be one of {sorted(_OP_NAMES)}, got {op!r}")
    op = _OP_NAMES[op]
    ws = _shape_tuple("weight_shape", weight_shape, (3, 4, 5))
    nd = len(ws) - 2
    ins = _shape_tuple("input_shape", input_shape, (nd + 1, nd + 2))
    ins = (1,) + ins if len(ins) == nd + 1 else ins
    if nd == 2:
        geo = _geometry(ins, ws, stride, padding, dilation, groups, input_name="input_shape",
                        weight_name="weight_shape")
    else:
        from . import _nd
        geo = _nd._as_2d(nd, ins, ws, stride, padding, dilation, groups, np.dtype(dtype))
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    algo, why = _auto_rule_checked(op, geo, dt, threads=_threads(threads))
    reason = why()
    if algo == "im2col" and math.prod(geo.output_shape) and math.prod(ins):
        try:
            _plan_memory(op, geo, algo, dt, _threads(threads), [])
        except MemoryError:
            algo, reason = "direct", "im2col's workspace would not fit in memory"
    if nd == 3:
        algo, reason, g3 = _nd._native_explain(op, ins, ws, stride, padding, dilation, groups,
                                               algo, reason, dt, _threads(threads))
        geo = geo if g3 is None else g3
    Cg, Kg = geo.C // geo.groups, geo.K // geo.groups
    features = dict(C_per_group=Cg, K_per_group=Kg, kernel=(geo.R, geo.S),
                    stride=geo.stride, reduction=Cg * geo.R * geo.S,
                    output_pixels=geo.P * geo.Q, batch=geo.N, groups=geo.groups)
    return Explanation(op, algo, reason, features)


def _shape_tuple(name, value, ndims):
    """A shape argument (weight_size, input_size): a sequence of non-negative ints
    (or a 1-D integer array). The array itself passed for its shape (an easy slip:
    conv2d_weight(x, w, g) for conv2d_weight(x, w.shape, g)) is a ValueError (an
    array of the wrong dimensionality, as always) that says so, without printing
    the array."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"{name} must be a shape (a tuple of ints), got a {value.ndim}-D "
                            f"array of shape {value.shape} (pass its .shape)")
        value = value.tolist()
    if not isinstance(value, (tuple, list)):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise TypeError(f"{name} must be a tuple of ints, got {shown} of type "
                        f"{type(value).__name__}")
    if len(value) not in ndims:
        want = " or ".join(str(n) for n in ndims)
        shown = repr(tuple(value)) if len(value) <= 8 else f"a sequence of {len(value)}"
        raise ValueError(f"{name} must have {want} entries, got {shown}")
    # (entries that are sequences; a 0-d integer array is an integer, as _int says)
    if any(isinstance(v, (tuple, list)) or (isinstance(v, np.ndarray) and v.ndim > 0)
           for v in value):
        raise TypeError(f"{name} must be a shape (a tuple of ints), got a sequence of "
                        f"sequences (an array's values? pass its .shape)")
    return tuple(_int(name, v, 0) for v in value)


def _batched(name, a, allowed=(3, 4), what="(N, C, H, W)"):
    if a.ndim not in allowed:
        raise ValueError(f"{name} must be a 4-D {what} array"
                         + (" or a 3-D unbatched one" if 3 in allowed else "")
                         + f", got {a.ndim}-D shape {a.shape}")
    return a.ndim == 3


# --------------------------------------------------------------------------- public API

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", layout="NCHW", algorithm="auto", threads=None, out=None):
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    ``out[n, k] = bias[k] + sum_{c, r, s} weight[k, c, r, s] *
    input[n, g*C/groups + c, p*stride + r*dilation - pad_top, q*stride + s*dilation - pad_left]``
    where ``g`` is the group of output channel ``k``.

    Parameters
    ----------
    input : array_like, shape (N, C, H, W) or (C, H, W)
        Images. A 3-D input is one unbatched image and gives a 3-D result.
    weight : array_like, shape (K, C/groups, R, S)
        Filters.
    bias : array_like, shape (K,), optional
        Added to every output pixel of each channel.
    stride, dilation : int or (int, int), default 1
        Step between output pixels, and between kernel taps, along (H, W).
    padding : int, (int, int), ((top, bottom), (left, right)), "valid" or "same", default 0
        Implicit zero padding. "same" follows TensorFlow's rule for every stride:
        the output has ceil(H / stride) rows, and an odd total padding puts the
        extra pixel at the bottom (right).
    groups : int, default 1
        Channels are split into ``groups`` independent convolutions (depthwise
        when ``groups == C``). Must divide C and K.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}, default "zeros"
        What the padding holds, as in PyTorch's ``Conv2d`` modules: zeros, the
        input mirrored without repeating its edge (padding < size), the edge
        repeated, or the input wrapped around (padding <= size).
    layout : {"NCHW", "NHWC"}, default "NCHW"
        Axis order of ``input`` and of the result (and of ``grad_output``
        and the input gradient in the gradients): "NHWC" is channels-last,
        ``(N, H, W, C)``, computed natively by convx's channels-last kernels
        (which run whatever ``algorithm`` says, except "fft"). The weight is
        ``(K, C/groups, R, S)`` in both.
    algorithm : {"auto", "direct", "im2col", "fft"}, default "auto"
        "direct" loops over the kernel taps; "im2col" multiplies the weights by
        tiles of the column matrix with convx's own blocked GEMM; "fft"
        multiplies spectra (stride 1 only; its rounding error grows with the
        size of the whole sum, not of one output, and an input holding inf or
        NaN is computed by an exact algorithm instead); "auto" picks (see
        :func:`explain`).
    threads : int, optional
        OpenMP threads. None: the OpenMP default (``OMP_NUM_THREADS``,
        threadpoolctl) in the main thread, 1 in any other thread (no pool x
        cores oversubscription); always 1 in a process created by fork. The
        result is bitwise the same for every thread count.
    out : ndarray, optional
        Writeable array of exactly the result's shape and dtype (any strides),
        filled and returned. It may overlap ``input`` or ``weight``.

    Returns
    -------
    ndarray, shape (N, K, P, Q) (or (K, P, Q))
        A new C-contiguous array (or ``out``). Its dtype is numpy's promotion
        of the inputs' dtypes, with integer/bool computed as float64 and
        float16 as float32.

    Examples
    --------
    >>> import numpy as np, convx
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2), dtype=np.float32)
    >>> convx.conv2d(x, w)[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]], dtype=float32)
    >>> convx.conv2d(x, w, padding="same", stride=2).shape
    (1, 1, 2, 2)
    """
    nthreads = _threads(threads)
    key = None if out is not None else _memo_key(
        (input, weight) if bias is None else (input, weight, bias),
        (stride, padding, dilation, groups, padding_mode, layout, algorithm),
        nthreads)
    if key is not None:
        hit = _FAST_FWD.get(key)
        if hit is not None and hit[0] <= _ALWAYS_FITS:
            return _forward_again(input, weight, bias, nthreads, *hit[1:])
    x = _array("input", input)
    w = _array("weight", weight)
    b = None if bias is None else _array("bias", bias)
    last = _channels_last(layout)
    unbatched = _batched("input", x, what="(N, H, W, C)" if last else "(N, C, H, W)")
    if w.ndim != 4:
        raise ValueError(f"weight must be a 4-D (K, C/groups, R, S) array, got {w.ndim}-D "
                         f"shape {w.shape}")
    xs = (1,) + x.shape if unbatched else x.shape
    geo = _geometry(_to_nchw(xs) if last else xs, w.shape, stride, padding, dilation, groups)
    if b is not None and b.shape != (geo.K,):
        raise ValueError(f"bias must have shape (K,) = ({geo.K},) to match weight shape "
                         f"{w.shape}, got shape {b.shape}")
    dtype = _compute_dtype(x.dtype, w.dtype, *(() if b is None else (b.dtype,)))
    mode = _padmode.check_mode(padding_mode)
    pad_code = _kernel_pad_code("fwd", mode, geo, last, algorithm, dtype, nthreads)
    if pad_code is None:
        return conv2d(_pad_input(x, geo, mode, dtype, last), w, b, stride, 0, dilation, groups,
                      layout=layout, algorithm=algorithm, threads=nthreads, out=out)
    if last:
        algo = _nhwc_algorithm(algorithm)
    else:
        algo = _resolve_algorithm(algorithm, "fwd", geo, dtype, nthreads)
    shape = _to_nhwc(geo.output_shape) if last else geo.output_shape
    shape = shape[1:] if unbatched else shape

    target = None
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.shape != shape:
            raise ValueError(f"out must have the result's shape {shape}, got {out.shape}")
        if out.dtype.kind != "f" or out.dtype.newbyteorder("=") != dtype:
            raise ValueError(f"out must have the result's dtype {dtype}, got {out.dtype}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
        target = out

    _check_size("output", shape, dtype)
    if last:
        xc = _prepare("input", x, dtype).reshape(xs)
        wc = _prepare("weight", w, dtype)
        bc = _prepare("bias", b, dtype) if b is not None else None
        if math.prod(shape) and xc.size and wc.size:
            y = _layout.nhwc_forward(xc, wc, bc, geo, nthreads).reshape(shape)
            if key is not None and target is None:
                _remember(_FAST_FWD, key, (
                    math.prod(shape) * dtype.itemsize + _copy_bytes(x, dtype)
                    + _copy_bytes(w, dtype) + _copy_bytes(b, dtype),
                    geo, dtype, "nhwc", shape, True, 0))
        else:       # an empty sum: the kernels never run on empty operands
            y = np.zeros(shape, dtype)
            if bc is not None:
                y[...] = bc
            _padding_nan_forward(np.moveaxis(y.reshape(_to_nhwc(geo.output_shape)), 3, 1),
                                 wc, geo)
        if target is not None:
            target[...] = y
            return target
        return y
    in_place = (target is not None and target.flags.c_contiguous and target.flags.aligned
                and target.dtype == dtype)
    if math.prod(shape):
        out_bytes = 0 if in_place else math.prod(shape) * dtype.itemsize
        algo = _algorithm_within_memory(
            "fwd", geo, algorithm, algo, dtype, nthreads,
            [out_bytes, _copy_bytes(x, dtype), _copy_bytes(w, dtype), _copy_bytes(b, dtype)])
        if pad_code and algo != "direct":       # (memory) only the plain loops fit
            return conv2d(_pad_input(x, geo, mode, dtype), w, b, stride, 0, dilation, groups,
                          algorithm=algorithm, threads=nthreads, out=out)
    xc = _prepare("input", x, dtype).reshape(xs)
    wc = _prepare("weight", w, dtype)
    bc = _prepare("bias", b, dtype) if b is not None else np.empty(0, dtype)
    if algo == "fft":
        key = None      # (the exact algorithm below is this call's, not the shape's)
    if algo == "fft" and math.prod(shape) and xc.size and wc.size:
        if _finite(xc, wc):
            from . import _fft
            y = _fft.fft_forward(xc, wc, geo, nthreads).reshape(shape)
            if b is not None:
                y += bc.reshape(-1, 1, 1)
            if target is not None:
                target[...] = y
                return target
            return y
        algo = _algorithm_within_memory(
            "fwd", geo, "auto", _exact_algorithm("fwd", geo, dtype), dtype, nthreads,
            [0 if in_place else math.prod(shape) * dtype.itemsize])
    elif algo == "fft":
        algo = "direct"     # an empty sum or output: no kernel runs
    direct_out = in_place and not any(np.may_share_memory(target, a) for a in (xc, wc, bc))
    y = target if direct_out else _alloc("output", shape, dtype)
    if y.size and (xc.size == 0 or wc.size == 0):
        # an empty sum (no channels, or an image of zero rows/columns seen only
        # through padding): the kernels never run on empty operands
        y[...] = bc.reshape(-1, 1, 1) if b is not None else 0
        _padding_nan_forward(y.reshape(geo.output_shape), wc, geo)
    elif y.size:
        multiplied = _conv.conv2d_fwd(xc.reshape(-1), wc.reshape(-1), bc.reshape(-1),
                                      y.reshape(-1), geo.astuple(), b is not None, algo,
                                      nthreads, pad_code)
        if not pad_code and not multiplied:
            _padding_nan_forward(y.reshape(geo.output_shape), wc, geo)
        if key is not None and target is None and algo in ("direct", "im2col"):
            # the same call again skips the checks and decisions above
            _remember(_FAST_FWD, key, (
                _memo_total("fwd", geo, algo, dtype, nthreads,
                            [y.nbytes, _copy_bytes(x, dtype), _copy_bytes(w, dtype),
                             _copy_bytes(b, dtype)]),
                geo, dtype, algo, shape, multiplied, pad_code))
    if target is not None and not direct_out:
        target[...] = y
        return target
    return y


# conv2d's decisions for a call it has run before with the same argument types,
# shapes, dtypes and parameters (and thread count and SIMD path): no out, a
# non-empty result on "direct" or "im2col" (channels first; zero padding, or a
# padding mode the direct kernels fill into their bands) or on the
# channels-last kernels ("nhwc")
_FAST_FWD = {}


def _forward_again(x, w, b, nthreads, geo, dtype, algo, shape, multiplied, pad_code):
    """conv2d for a call whose checks and decisions _FAST_FWD holds."""
    xc = _prepare("input", x, dtype)
    wc = _prepare("weight", w, dtype)
    if algo == "nhwc":      # (channels last: its kernels multiply the padding)
        bc = _prepare("bias", b, dtype) if b is not None else None
        return _layout.nhwc_forward(xc, wc, bc, geo, nthreads).reshape(shape)
    bc = _prepare("bias", b, dtype) if b is not None else np.empty(0, dtype)
    y = _memory.empty(shape, dtype)
    _conv.conv2d_fwd(xc.reshape(-1), wc.reshape(-1), bc.reshape(-1), y.reshape(-1),
                     geo.astuple(), b is not None, algo, nthreads, pad_code)
    if not pad_code and not multiplied:
        _padding_nan_forward(y.reshape(geo.output_shape), wc, geo)
    return y


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1,
                  *, padding_mode="zeros", layout="NCHW", algorithm="auto", threads=None):
    """Gradient of a 2-D convolution with respect to its weight.

    For ``y = conv2d(input, weight, ...)`` and a loss gradient ``grad_output =
    dL/dy``, returns ``dL/dweight``: ``sum_{n, p, q} grad_output[n, k, p, q] *
    input[n, g*C/groups + c, p*stride + r*dilation - pad_top, ...]``. Same
    argument order as ``torch.nn.grad.conv2d_weight``.

    Parameters
    ----------
    input : array_like, shape (N, C, H, W) or (C, H, W)
    weight_size : tuple of 4 ints
        (K, C/groups, R, S), the weight's shape.
    grad_output : array_like, shape (N, K, P, Q) (3-D if input is)
        Must be exactly the shape the forward pass produces.
    stride, padding, dilation, groups, padding_mode, layout, algorithm, threads
        As in :func:`conv2d`. The reduction over the batch has a fixed order,
        so the result is bitwise the same for every thread count.

    Returns
    -------
    ndarray, shape weight_size
        dtype: numpy's promotion of input and grad_output (see :func:`conv2d`).

    Examples
    --------
    >>> import numpy as np, convx
    >>> x = np.ones((1, 1, 3, 3))
    >>> g = np.ones((1, 1, 2, 2))
    >>> convx.conv2d_weight(x, (1, 1, 2, 2), g)[0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    key = _memo_key((input, grad_output), (weight_size, stride, padding, dilation, groups,
                                           padding_mode, layout, algorithm), _threads(threads))
    if key is not None:
        hit = _FAST_WGRAD.get(key)
        if hit is not None and hit[0] <= _ALWAYS_FITS:
            return _weight_again(input, grad_output, key[-2], *hit[1:])
    x = _array("input", input)
    gy = _array("grad_output", grad_output)
    last = _channels_last(layout)
    unbatched = _batched("input", x, what="(N, H, W, C)" if last else "(N, C, H, W)")
    wsize = _shape_tuple("weight_size", weight_size, (4,))
    xs = (1,) + x.shape if unbatched else x.shape
    geo = _geometry(_to_nchw(xs) if last else xs, wsize, stride, padding, dilation, groups,
                    weight_name="weight_size")
    expected = _to_nhwc(geo.output_shape) if last else geo.output_shape
    expected = expected[1:] if unbatched else expected
    if gy.shape != expected:
        raise ValueError(f"grad_output must have the forward output's shape {expected} "
                         f"(input shape {x.shape}, weight_size {wsize}), got {gy.shape}")
    dtype = _compute_dtype(x.dtype, gy.dtype)
    mode = _padmode.check_mode(padding_mode)
    nthreads = _threads(threads)
    pad_code = _kernel_pad_code("wgrad", mode, geo, last, algorithm, dtype, nthreads)
    if pad_code is None:
        return conv2d_weight(_pad_input(x, geo, mode, dtype, last), wsize, gy, stride, 0,
                             dilation, groups, layout=layout, algorithm=algorithm,
                             threads=nthreads)
    _check_size("weight gradient", wsize, dtype)
    if last:
        _nhwc_algorithm(algorithm)
        xc = _prepare("input", x, dtype).reshape(xs)
        gc = _prepare("grad_output", gy, dtype).reshape(_to_nhwc(geo.output_shape))
        if math.prod(wsize) and xc.size and gc.size:
            if key is not None:
                _remember(_FAST_WGRAD, key, (
                    math.prod(wsize) * dtype.itemsize + _copy_bytes(x, dtype)
                    + _copy_bytes(gy, dtype), geo, dtype, "nhwc", wsize, xs, 0))
            return _layout.nhwc_weight(xc, gc, geo, nthreads)
        dw = np.zeros(wsize, dtype)     # an empty sum
        _padding_nan_weight(dw, np.moveaxis(gc, 3, 1), geo)
        return dw
    algo = _resolve_algorithm(algorithm, "wgrad", geo, dtype, nthreads)
    if math.prod(wsize):
        algo = _algorithm_within_memory(
            "wgrad", geo, algorithm, algo, dtype, nthreads,
            [math.prod(wsize) * dtype.itemsize, _copy_bytes(x, dtype), _copy_bytes(gy, dtype)])
        if pad_code and algo != "direct":       # (memory) only the plain loops fit
            return conv2d_weight(_pad_input(x, geo, mode, dtype), wsize, gy, stride, 0,
                                 dilation, groups, algorithm=algorithm, threads=nthreads)
    dw = _alloc("weight gradient", wsize, dtype)
    if dw.size:
        xc = _prepare("input", x, dtype)
        gc = _prepare("grad_output", gy, dtype)
        padded = False
        if algo == "fft":
            key = None      # (the exact algorithm below is this call's, not the shape's)
            if xc.size and gc.size and _finite(xc, gc):
                from . import _fft
                return _fft.fft_weight(xc.reshape(geo.input_shape),
                                       gc.reshape(geo.output_shape), geo,
                                       nthreads).reshape(wsize)
            algo = _algorithm_within_memory("wgrad", geo, "auto",
                                            _exact_algorithm("wgrad", geo, dtype), dtype,
                                            nthreads, [])
        if xc.size and gc.size:
            padded = _conv.conv2d_wgrad(xc.reshape(-1), gc.reshape(-1), dw.reshape(-1),
                                        geo.astuple(), algo, nthreads, pad_code)
            if key is not None and algo in ("direct", "im2col"):
                # the same call again skips the checks and decisions above
                _remember(_FAST_WGRAD, key, (
                    _memo_total("wgrad", geo, algo, dtype, nthreads,
                                [dw.nbytes, _copy_bytes(x, dtype), _copy_bytes(gy, dtype)]),
                    geo, dtype, algo, wsize, xs, pad_code))
        else:
            dw[...] = 0          # an empty sum: the kernels never run on empty operands
        if not padded:
            _padding_nan_weight(dw, gc.reshape(geo.output_shape), geo)
    return dw


# conv2d_weight's decisions for a call it has run before with the same argument
# types, shapes, dtypes and parameters (and thread count and SIMD path), as
# _FAST_FWD: a non-empty result on "direct" or "im2col" (channels first; zero
# padding or a padding mode the direct kernels fill) or on the channels-last
# kernels ("nhwc"); never an FFT call's exact fallback.
_FAST_WGRAD = {}


def _weight_again(x, gy, nthreads, geo, dtype, algo, wsize, xs, pad_code):
    """conv2d_weight for a call whose checks and decisions _FAST_WGRAD holds."""
    xc = _prepare("input", x, dtype)
    gc = _prepare("grad_output", gy, dtype)
    if algo == "nhwc":
        return _layout.nhwc_weight(xc.reshape(xs), gc.reshape(_to_nhwc(geo.output_shape)), geo,
                                   nthreads)
    dw = np.empty(wsize, dtype)
    padded = _conv.conv2d_wgrad(xc.reshape(-1), gc.reshape(-1), dw.reshape(-1), geo.astuple(),
                                algo, nthreads, pad_code)
    if not padded:
        _padding_nan_weight(dw, gc.reshape(geo.output_shape), geo)
    return dw


def _fold_tables(geo, mode):
    """(H, W, top, left, src_h, src_w): the input's size, the padding before it,
    and the input row / column each padded row / column copies (intp,
    read-only; the same arrays for the same sizes, padding and mode)."""
    (t, b), (l, r) = geo.padding
    return (geo.H, geo.W, t, l, _source_table(geo.H, t, b, mode),
            _source_table(geo.W, l, r, mode))


@functools.lru_cache(maxsize=256)
def _source_table(n, lo, hi, mode):
    src = _padmode.source_index(n, lo, hi, mode).astype(np.intp)
    src.flags.writeable = False
    return src


def _fold2d(dxp, isize, geo, mode, last, nthreads):
    """The input gradient from the padded input's gradient dxp (padding_mode
    other than zeros): each padded position's gradient added to the input
    position it copied, in one parallel pass (_conv.fold_pad2d; numpy's slice
    additions cost 1.3-3.4x the convolution's own input gradient)."""
    H, W, t, l, src_h, src_w = _fold_tables(geo, mode)
    (_, b), (_, r) = geo.padding
    dx = _memory.empty(isize, dxp.dtype)
    dims = (geo.N, geo.C, H, W, t, l, H + t + b, W + l + r)
    _conv.fold_pad2d(np.ascontiguousarray(dxp).reshape(-1), dx.reshape(-1), dims, src_h,
                     src_w, last, nthreads)
    return dx


# Input channels per group from which the padding modes' input gradient is the
# zeros-padding one plus the border's restricted-tap gradient (_input_border):
# below it the border's tiles are too thin (lenet1, C = 1: 1.54x the zeros
# gradient's time, against 1.23x for the fused _input_folded; depthwise: 2.0x
# against 1.24x), above it they win (lenet2, 8 channels: 1.45x against 2.27x;
# res3x3_256: 1.21x against 1.49x). bench/README.md, session 10.
_BORDER_MIN_CG = 8


def _input_circular(w, gy, geo, mode, algorithm, threads):
    """conv2d_input under circular padding (NCHW) where the output has the
    input's size (stride 1, top + bottom padding = dilation * (R - 1), the
    same for columns): the forward is then circulant, and its adjoint the
    circular correlation of grad_output with the flipped, transposed weight,
    i.e. a forward convolution with circular padding (top and bottom, left
    and right swapped). The same products as the padded input's gradient
    folded back (every one of them: no zero padding anywhere), summed in
    another order, at the forward's speed: lenet2's circular input gradient
    took 1.45-1.49x the zeros one's time through the border, this 1.20-1.21x
    (the forward's circular cost; bench/README.md, session 31). Groups of at
    least _BORDER_MIN_CG input channels, the border's layers, and depthwise
    layers whose circular forward runs the streamed in-place tiles padding
    in registers (_conv.regpad_forward; `bench/circular_dgrad_ab.py`, session
    32: the bench layer 1.17-1.25x the zeros gradient's time, the fused fold
    1.44-1.51x; a small one on the band, 4 x 64 x 28 x 28, 1.54-1.69x
    against 1.46-1.56x at 1 thread, so not there, though 1.38x against 1.63x
    in one run at 2). None where it does not apply."""
    (t, b), (l, r) = geo.padding
    if (mode != "circular" or geo.stride != (1, 1)
            or t + b != geo.dilation[0] * (geo.R - 1) or l + r != geo.dilation[1] * (geo.S - 1)
            or not (w.size and gy.size)):
        return None
    G, (K, Cg, R, S) = geo.groups, w.shape
    if Cg < _BORDER_MIN_CG and not (
            algorithm in ("auto", "direct") and _conv.regpad_forward(
                _geometry(geo.output_shape, (G * Cg, K // G, R, S), 1, ((b, t), (r, l)),
                          geo.dilation, G).astuple(),
                _compute_dtype(w.dtype, gy.dtype), _PAD_CODES["circular"])):
        return None
    # (the flipped, transposed weight: a view, prepared by conv2d as any weight)
    wt = w.reshape(G, K // G, Cg, R, S)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    return conv2d(gy, wt.reshape(G * Cg, K // G, R, S), None, 1, ((b, t), (r, l)),
                  geo.dilation, G, padding_mode="circular", algorithm=algorithm,
                  threads=threads)


def _input_border(isize, w, gy, geo, mode, padding, dilation, groups, algorithm, threads,
                  key=None):
    """conv2d_input under padding mode ``mode`` (NCHW, stride 1) as the
    zeros-padding input gradient (any algorithm) plus, added at the input
    positions they copied, the gradients of the padded positions, each made
    from the taps that reach grad_output only (_conv.conv2d_dgrad_border: a
    16 x 16 padded input of a 3 x 3 kernel has 9% of the tap pairs in its
    ring, while computing the padded input's whole gradient costs its 31%
    larger area); None where the layer's groups are too thin for it, or the
    weight holds inf or nan. key: conv2d_input's memo key, remembered."""
    if (geo.stride != (1, 1) or geo.C // geo.groups < _BORDER_MIN_CG
            or max(geo.R, geo.S) > 64 or not math.prod(isize)):
        return None
    return _border_again(isize, w, gy, geo, _compute_dtype(w.dtype, gy.dtype),
                         _fold_tables(geo, mode), (padding, dilation, groups, algorithm),
                         _threads(threads), key)


def _border_again(isize, w, gy, geo, dtype, fold, args, nthreads, key=None):
    """_input_border's work once its checks passed (conv2d_input's repeats
    come here directly); None for a non-finite weight."""
    padding, dilation, groups, algorithm = args
    wc = _prepare("weight", w, dtype)
    gc = _prepare("grad_output", gy, dtype)
    dx = conv2d_input(isize, wc, gc, 1, padding, dilation, groups, algorithm=algorithm,
                      threads=nthreads)
    # (the border checks the weight as it reorders it: its tiles multiply zeros
    # past grad_output's edges, so an inf or nan there sends the call to the
    # fused fold; numpy's isfinite pass cost vgg3x3_512 1.8% of the call)
    if (wc.size and gc.size
            and not _conv.conv2d_dgrad_border(wc.reshape(-1), gc.reshape(-1), dx.reshape(-1),
                                              geo.astuple(), fold, nthreads)):
        return None
    if key is not None:
        _remember(_FAST_DGRAD, key, (dx.nbytes + wc.nbytes, geo, dtype, "border", isize,
                                     (fold, args)))
    return dx


def _input_ring(isize, w, gy, geo, mode, algorithm, threads, key=None):
    """conv2d_input under padding mode ``mode`` (NCHW, stride 1) for depthwise
    layers (one input and one output channel a group) where the zeros-padding
    gradient runs on the direct kernels: that gradient written straight into
    dx, the padded positions' gradients (their few taps) added as each item's
    planes are made (_conv.conv2d_dgrad_ring); None elsewhere. The fused
    fold's copy out of its padded buffer cost the depthwise bench layer 1.25x
    the zeros gradient's time on AVX2, this form ~1.15x; with more channels a
    group the padded positions' scalar taps grow with it (lenet1, 8 output
    channels: 1.9x against the fold's 1.2x; bench/README.md, session 14)."""
    if (geo.stride != (1, 1) or geo.C != geo.groups or geo.K != geo.groups
            or not math.prod(isize)):
        return None
    dtype = _compute_dtype(w.dtype, gy.dtype)
    nthreads = _threads(threads)
    if _resolve_algorithm(algorithm, "dgrad", geo, dtype, nthreads) != "direct":
        return None
    total = _plan_memory("dgrad", geo, "direct", dtype, nthreads,
                         [math.prod(isize) * dtype.itemsize, _copy_bytes(w, dtype),
                          _copy_bytes(gy, dtype)])
    return _mode_form(_conv.conv2d_dgrad_ring, geo.astuple(), "ring", lambda fold: fold, isize,
                      w, gy, geo, mode, dtype, nthreads, total, key)


def _mode_form(kernel, geometry, name, extra, isize, w, gy, geo, mode, dtype, nthreads, total,
               key):
    """dx from one of _conv's one-pass padding-mode input gradients (kernel:
    conv2d_dgrad_ring or conv2d_dgrad_fold, on the problem ``geometry``), or
    None where it declines (it then wrote nothing); remembered under key as
    ``name`` with extra(fold tables)."""
    wc = _prepare("weight", w, dtype)
    gc = _prepare("grad_output", gy, dtype)
    if not (wc.size and gc.size):
        return None
    dx = _memory.empty(isize, dtype)
    fold = _fold_tables(geo, mode)
    if kernel(wc.reshape(-1), gc.reshape(-1), dx.reshape(-1), geometry, fold, nthreads):
        if key is not None:
            _remember(_FAST_DGRAD, key, (total, geo, dtype, name, isize, extra(fold)))
        return dx
    return None


def _input_folded(psize, isize, w, gy, geo, mode, dilation, groups, algorithm, threads,
                  key=None):
    """conv2d_input under padding mode ``mode`` (NCHW, stride 1) in one pass
    where the direct kernels run it (_conv.conv2d_dgrad_fold: the padded input's
    gradient made one image's block of channels at a time in a per-thread
    buffer and folded straight into dx); None where they do not (then the
    caller computes the padded gradient and folds it)."""
    if geo.stride != (1, 1) or not math.prod(isize):
        return None
    ps = (1,) + psize if len(psize) == 3 else psize
    pgeo = _geometry(ps, w.shape, 1, 0, dilation, groups, input_name="input_size")
    dtype = _compute_dtype(w.dtype, gy.dtype)
    nthreads = _threads(threads)
    if _resolve_algorithm(algorithm, "dgrad", pgeo, dtype, nthreads) != "direct":
        return None
    image = pgeo.C * pgeo.H * pgeo.W * dtype.itemsize     # one padded image per thread
    ring = (math.prod(psize) - math.prod(isize)) * dtype.itemsize   # (at most) padded rows
    total = _plan_memory("dgrad", pgeo, "direct", dtype, nthreads,
                         [math.prod(isize) * dtype.itemsize, nthreads * image, ring,
                          _copy_bytes(w, dtype), _copy_bytes(gy, dtype)])
    return _mode_form(_conv.conv2d_dgrad_fold, pgeo.astuple(), "fold",
                      lambda fold: (pgeo, fold), isize, w, gy, geo, mode, dtype, nthreads,
                      total, key)


def _input_folded_nhwc(psize, isize, w, gy, geo, mode, dilation, groups, algorithm,
                       threads):
    """The channels-last counterpart of _input_folded, for depthwise layers
    (multiplier 1, stride 1), whose input gradient is the depthwise forward of
    grad_output (_conv.nhwc_dgrad_fold); None for every other layer."""
    _nhwc_algorithm(algorithm)
    if (geo.stride != (1, 1) or not math.prod(isize)
            or not geo.groups == geo.C == geo.K):
        return None
    ps = (1,) + psize if len(psize) == 3 else psize
    pgeo = _geometry(_to_nchw(ps), w.shape, 1, 0, dilation, groups, input_name="input_size")
    dtype = _compute_dtype(w.dtype, gy.dtype)
    nthreads = _threads(threads)
    row = pgeo.W * pgeo.C * dtype.itemsize                 # one padded row per thread
    ring = (math.prod(psize) - math.prod(isize)) * dtype.itemsize
    _too_big(lambda: f"input gradient of input_size {isize} with padding_mode={mode!r}",
             math.prod(isize) * dtype.itemsize + nthreads * row + ring
             + _copy_bytes(w, dtype) + _copy_bytes(gy, dtype))
    wc = _prepare("weight", w, dtype)
    gc = _prepare("grad_output", gy, dtype)
    if not (wc.size and gc.size):
        return None
    as_fwd = _layout._input_as_forward(wc, pgeo)
    if as_fwd is None:
        return None
    g2, wt = as_fwd
    dx = _memory.empty(isize, dtype)
    if _conv.nhwc_dgrad_fold(gc.reshape(-1), wt, dx.reshape(-1), g2, _fold_tables(geo, mode),
                             nthreads):
        return dx
    return None


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 *, padding_mode="zeros", layout="NCHW", algorithm="auto", threads=None):
    """Gradient of a 2-D convolution with respect to its input.

    For ``y = conv2d(input, weight, ...)`` with ``input.shape == input_size``
    and ``grad_output = dL/dy``, returns ``dL/dinput`` (a transposed
    convolution). Input pixels that no output pixel reads get exactly 0. Same
    argument order as ``torch.nn.grad.conv2d_input``.

    Parameters
    ----------
    input_size : tuple of 4 (or 3) ints
        (N, C, H, W), or (C, H, W) for an unbatched input. Any size whose
        forward output has grad_output's shape is legal (with stride 2 and a
        3-row kernel, H = 7 and H = 8 both give 3 output rows).
    weight : array_like, shape (K, C/groups, R, S)
    grad_output : array_like, shape (N, K, P, Q) (3-D if input_size is)
    stride, padding, dilation, groups, padding_mode, layout, algorithm, threads
        As in :func:`conv2d` (with layout "NHWC", input_size is (N, H, W, C)).
        With a padding_mode other than "zeros", the
        gradient of every padded pixel is added to the input pixel it copies.

    Returns
    -------
    ndarray, shape input_size
        dtype: numpy's promotion of weight and grad_output (see :func:`conv2d`).

    Examples
    --------
    >>> import numpy as np, convx
    >>> w = np.ones((1, 1, 2, 2))
    >>> g = np.ones((1, 1, 2, 2))
    >>> convx.conv2d_input((1, 1, 3, 3), w, g)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    nthreads = _threads(threads)
    key = _memo_key((weight, grad_output), (input_size, stride, padding, dilation, groups,
                                            padding_mode, layout, algorithm), nthreads)
    if key is not None:
        hit = _FAST_DGRAD.get(key)
        if hit is not None and hit[0] <= _ALWAYS_FITS:
            dx = _input_again(weight, grad_output, nthreads, *hit[1:])
            if dx is not None:
                return dx
    isize = _shape_tuple("input_size", input_size, (3, 4))
    w = _array("weight", weight)
    gy = _array("grad_output", grad_output)
    if w.ndim != 4:
        raise ValueError(f"weight must be a 4-D (K, C/groups, R, S) array, got {w.ndim}-D "
                         f"shape {w.shape}")
    last = _channels_last(layout)
    unbatched = len(isize) == 3
    xs = (1,) + isize if unbatched else isize
    geo = _geometry(_to_nchw(xs) if last else xs, w.shape, stride, padding, dilation, groups,
                    input_name="input_size")
    expected = _to_nhwc(geo.output_shape) if last else geo.output_shape
    expected = expected[1:] if unbatched else expected
    if gy.shape != expected:
        raise ValueError(f"grad_output must have the forward output's shape {expected} "
                         f"(input_size {isize}, weight shape {w.shape}), got {gy.shape}")
    dtype = _compute_dtype(w.dtype, gy.dtype)
    mode = _padmode.check_mode(padding_mode)
    if mode != "zeros" and geo.padding != ((0, 0), (0, 0)):
        _padded_geometry(geo, mode, "input_size")
        (t, b), (l, r) = geo.padding
        if last:
            psize = isize[:-3] + (geo.H + t + b, geo.W + l + r, geo.C)
            dx = _input_folded_nhwc(psize, isize, w, gy, geo, mode, dilation, groups,
                                    algorithm, threads)
            if dx is not None:
                return dx
        else:
            dx = _input_circular(w, gy, geo, mode, algorithm, threads)
            if dx is not None:
                return dx
            dx = _input_border(isize, w, gy, geo, mode, padding, dilation, groups, algorithm,
                               threads, key)
            if dx is not None:
                return dx
            dx = _input_ring(isize, w, gy, geo, mode, algorithm, threads, key)
            if dx is not None:
                return dx
            psize = isize[:-2] + (geo.H + t + b, geo.W + l + r)
            dx = _input_folded(psize, isize, w, gy, geo, mode, dilation, groups, algorithm,
                               threads, key)
            if dx is not None:
                return dx
        dxp = conv2d_input(psize, w, gy, stride, 0, dilation, groups, layout=layout,
                           algorithm=algorithm, threads=threads)
        return _fold2d(dxp, isize, geo, mode, last, _threads(threads))
    _check_size("input gradient", isize, dtype)
    if last:
        _nhwc_algorithm(algorithm)
        wc = _prepare("weight", w, dtype)
        gc = _prepare("grad_output", gy, dtype).reshape(_to_nhwc(geo.output_shape))
        if math.prod(isize) and wc.size and gc.size:
            dx = _layout.nhwc_input(wc, gc, geo, nthreads).reshape(isize)
            if key is not None:
                _remember(_FAST_DGRAD, key, (
                    dx.nbytes + _copy_bytes(w, dtype) + _copy_bytes(gy, dtype), geo, dtype,
                    "nhwc", isize))
            return dx
        return np.zeros(isize, dtype)   # an empty sum
    algo = _resolve_algorithm(algorithm, "dgrad", geo, dtype, nthreads)
    if math.prod(isize):
        algo = _algorithm_within_memory(
            "dgrad", geo, algorithm, algo, dtype, nthreads,
            [math.prod(isize) * dtype.itemsize, _copy_bytes(w, dtype), _copy_bytes(gy, dtype)])
    if algo == "fft":
        key = None      # (the exact algorithm below is this call's, not the shape's)
    if algo == "fft" and math.prod(isize):
        wc = _prepare("weight", w, dtype)
        gc = _prepare("grad_output", gy, dtype)
        if wc.size and gc.size and _finite(wc, gc):
            from . import _fft
            return _fft.fft_input(wc, gc.reshape(geo.output_shape), geo,
                                  nthreads).reshape(isize)
        algo = _algorithm_within_memory("dgrad", geo, "auto",
                                        _exact_algorithm("dgrad", geo, dtype), dtype,
                                        nthreads, [math.prod(isize) * dtype.itemsize])
    elif algo == "fft":
        algo = "direct"
    dx = _alloc("input gradient", isize, dtype)
    if dx.size:
        wc = _prepare("weight", w, dtype)
        gc = _prepare("grad_output", gy, dtype)
        if wc.size and gc.size:
            _conv.conv2d_dgrad(wc.reshape(-1), gc.reshape(-1), dx.reshape(-1), geo.astuple(),
                               algo, nthreads)
            if key is not None and algo in ("direct", "im2col"):
                # the same call again skips the checks and decisions above
                _remember(_FAST_DGRAD, key, (
                    _memo_total("dgrad", geo, algo, dtype, nthreads,
                                [dx.nbytes, _copy_bytes(w, dtype), _copy_bytes(gy, dtype)]),
                    geo, dtype, algo, isize))
        else:
            dx[...] = 0          # an empty sum: the kernels never run on empty operands
    return dx


# conv2d_input's decisions for a call it has run before with the same argument
# types, shapes, dtypes and parameters (and thread count and SIMD path), as
# _FAST_FWD: a non-empty result on "direct" or "im2col" (channels first, zero
# padding), on the channels-last kernels ("nhwc"), or a padding mode's
# "border", "ring" or fused "fold" form (NCHW, stride 1); never an FFT call's exact
# fallback.
_FAST_DGRAD = {}


def _input_again(w, gy, nthreads, geo, dtype, algo, isize, extra=None):
    """conv2d_input for a call whose checks and decisions _FAST_DGRAD holds
    (None where this call's data rules the remembered path out: a non-finite
    weight under a padding mode; the caller then takes the checked path)."""
    if algo == "border":
        fold, args = extra
        return _border_again(isize, w, gy, geo, dtype, fold, args, nthreads)
    wc = _prepare("weight", w, dtype)
    gc = _prepare("grad_output", gy, dtype)
    if algo == "fold":
        pgeo, fold = extra
        dx = _memory.empty(isize, dtype)
        if _conv.conv2d_dgrad_fold(wc.reshape(-1), gc.reshape(-1), dx.reshape(-1),
                                   pgeo.astuple(), fold, nthreads):
            return dx
        return None
    if algo == "ring":
        dx = _memory.empty(isize, dtype)
        if _conv.conv2d_dgrad_ring(wc.reshape(-1), gc.reshape(-1), dx.reshape(-1),
                                   geo.astuple(), extra, nthreads):
            return dx
        return None
    if algo == "nhwc":
        return _layout.nhwc_input(wc, gc.reshape(_to_nhwc(geo.output_shape)), geo,
                                  nthreads).reshape(isize)
    dx = _memory.empty(isize, dtype)
    _conv.conv2d_dgrad(wc.reshape(-1), gc.reshape(-1), dx.reshape(-1), geo.astuple(), algo,
                       nthreads)
    return dx
