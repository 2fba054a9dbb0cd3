"""convx on Dask: convolutions of image sets and images larger than one machine.

``import convx.dask`` (needs the ``convx[dask]`` extra: ``dask[array]`` and
``distributed``; ``import convx`` alone never imports Dask). Dask's arrays,
schedulers and reductions do the distribution; convx computes each chunk with
its own kernels. Every function here only builds a graph: nothing runs until
``.compute()``, ``.persist()`` or a chunk-by-chunk writer (``da.store``,
``to_zarr``) asks for it.

What is supported
-----------------
:func:`conv2d`
    * chunks along N (batch): one task per chunk, ``map_blocks``, no data moves
      between chunks. Each output chunk is the single-machine result of its
      images, bit for bit.
    * chunks along H and/or W (one huge image, a mosaic), with or without N
      chunks: ``map_overlap`` with a halo sized from the kernel, dilation,
      stride and padding; every stride, dilation and padding form ("same",
      "valid", asymmetric), and any chunk sizes. Output pixel ``p`` of an axis
      belongs to the chunk holding input pixel ``p * stride``, and each chunk
      computes exactly its own output pixels with the zero padding that the
      whole image has there, so every output pixel is the same sum, in the
      same order, as in one ``convx.conv2d`` call: the result is bitwise the
      single-machine one. An output chunk has as many pixels as its input
      chunk has multiples of the stride: with chunk sizes that are multiples
      of the stride the output chunks are regular (``chunk // stride``, the
      last one may be shorter), which ``to_zarr`` needs; other chunk sizes
      work but give irregular output chunks (empty ones for chunks narrower
      than the stride). Chunks smaller than the halo are merged with a
      neighbour first (the one rechunk this may do).
    * chunks along C are refused (a pixel's reduction runs over all channels
      of a group): rechunk with ``x.rechunk({1: -1})``.
:func:`conv2d_weight`
    ``input`` and ``grad_output`` chunked along N only, with the same N
    chunks: per-chunk weight gradients summed by Dask's tree reduction
    (``split_every``). A numpy operand is split along N like the Dask one.
    Chunks along C, H, W (or K, P, Q) are refused with the rechunk to use.
:func:`conv2d_input`
    ``grad_output`` chunked along N only: one task per chunk.

``weight`` and ``bias`` are numpy arrays (small; every task gets a copy). A
Dask array there is refused rather than computed behind your back.

Threads
-------
Dask threads x convx threads must not exceed a worker's cores; a worker should
run one OpenMP pool, not one per Dask thread. Two good settings:

* ``threads_per_worker=1`` and ``threads=<cores per worker>``: each worker
  convolves one chunk at a time with one OpenMP pool of all its cores (best
  for big chunks, and one chunk in memory per worker), e.g. on 16 cores
  ``LocalCluster(n_workers=4, threads_per_worker=1)`` and ``threads=4``.
* ``threads=None`` (the default): each task uses convx's default thread count
  in its process divided by the Dask threads running there (the worker's
  ``nthreads``; the threaded scheduler's pool; 1 for the synchronous
  scheduler), at least 1. Dask's nanny starts workers with
  ``OMP_NUM_THREADS=1``, so on a ``distributed`` worker this is one convx
  thread per task and Dask's threads fill the cores; with the threaded
  scheduler on one machine it splits the cores between Dask's threads.
  (Several in-process workers, ``LocalCluster(processes=False, n_workers>1)``,
  share one process and each counts only its own threads: pass ``threads=``.)

The threads setting never changes a result: convx is bitwise the same for
every thread count.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

import dask
import dask.array as da

import convx
from convx import _api, _conv

__all__ = ["conv2d", "conv2d_weight", "conv2d_input"]


# --------------------------------------------------------------------------- threads

def _dask_threads_here():
    """How many Dask threads may be running tasks in this process right now."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker
            return max(1, int(get_worker().state.nthreads))
        except (ImportError, ValueError, AttributeError):
            pass
    if threading.current_thread() is threading.main_thread():
        return 1  # the synchronous scheduler runs tasks in the caller's thread
    from dask.system import CPU_COUNT
    return max(1, int(dask.config.get("num_workers", None) or CPU_COUNT))


def _task_threads(threads):
    """convx threads for one task: the caller's choice, or the process's share per Dask thread."""
    if threads is not None:
        return threads
    return max(1, min(_conv.max_threads(), _api.MAX_THREADS) // _dask_threads_here())


# --------------------------------------------------------------------------- validation

def _as_dask(name, value):
    """A Dask array (any array-like becomes a single-chunk one), dtype-checked like convx."""
    if not isinstance(value, da.Array):
        value = _api._array(name, value)
        return da.from_array(value, chunks=-1)
    kind = value.dtype.kind
    if kind not in "biuf" or (kind == "f" and value.dtype.itemsize > 8):
        raise TypeError(f"{name} has dtype {value.dtype}; convx computes in float32 or float64 "
                        f"and accepts bool, integer and float arrays up to float64")
    if any(math.isnan(c) for cs in value.chunks for c in cs):
        raise ValueError(f"{name} has unknown chunk sizes (chunks {value.chunks}); convx.dask "
                         f"needs them to plan the output: call {name}.compute_chunk_sizes() "
                         f"first")
    return value


def _small(name, value):
    """weight or bias: a numpy array, sent whole to every task."""
    if isinstance(value, da.Array):
        raise TypeError(f"{name} is a dask array; convx.dask sends {name} whole to every task "
                        f"and takes it as a numpy array: pass {name}.compute()")
    return _api._array(name, value)


def _batched(name, x, what="(N, C, H, W)"):
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must be a 4-D {what} array or a 3-D unbatched one, got "
                         f"{x.ndim}-D shape {x.shape}")
    return x.ndim == 3


def _check_batch_chunks(op, name, a, axis_names):
    """ValueError unless `a` is one chunk along every axis but N (axis 0)."""
    split = [ax for ax in range(1, a.ndim) if len(a.chunks[ax]) > 1]
    if split:
        what = ", ".join(f"{axis_names[ax]} ({len(a.chunks[ax])} chunks {a.chunks[ax]})"
                         for ax in split)
        fix = "{" + ", ".join(f"{ax}: -1" for ax in split) + "}"
        raise ValueError(f"{name} is chunked along {what}; {op} needs {name} chunked along N "
                         f"only: rechunk with {name}.rechunk({fix})")


def _threads_arg(threads):
    return None if threads is None else _api._int("threads", threads, 1)


# --------------------------------------------------------------------------- spatial plan

def _axis_plan(chunks, size, out_size, eff, stride, pad_lo):
    """Split one output axis over the input chunks of that axis.

    Output pixel p reads input pixels ``p*stride - pad_lo + [0, eff)`` and
    belongs to the chunk holding input pixel ``p*stride`` (the last chunk also
    takes those anchored past the end). Returns the output chunk sizes and,
    per chunk, the input range ``[lo, hi)`` its outputs read (it may stick out
    of ``[0, size)``: that part is zero padding).
    """
    bounds = np.cumsum((0,) + tuple(chunks)).tolist()
    first = [0] + [min(-(-b // stride), out_size) for b in bounds[1:-1]] + [out_size]
    out_chunks, reads = [], []
    for j in range(len(chunks)):
        p_lo, p_hi = first[j], max(first[j], first[j + 1])
        lo = p_lo * stride - pad_lo
        hi = (p_hi - 1) * stride - pad_lo + eff if p_hi > p_lo else lo
        out_chunks.append(p_hi - p_lo)
        reads.append((lo, hi))
    return tuple(out_chunks), reads, bounds


def _axis_depth(reads, bounds, size):
    """The halo (before, after) each chunk needs from its neighbours."""
    before = after = 0
    for j, (lo, hi) in enumerate(reads):
        a, b = max(lo, 0), min(hi, size)
        if a >= b:
            continue
        before = max(before, bounds[j] - a)
        after = max(after, b - bounds[j + 1])
    return before, after


def _merge_small(chunks, minimum):
    """Merge chunks smaller than `minimum` into a neighbour (map_overlap reads one neighbour)."""
    out = []
    for c in chunks:
        if out and out[-1] < minimum:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < minimum:
        last = out.pop()
        out[-1] += last
    return tuple(out)


def _spatial_axis(chunks, size, out_size, eff, stride, pad_lo):
    """Chunks (possibly merged), output chunks, halo and per-chunk plans of one axis.

    A chunk's plan is (start, stop, pad_lo, pad_hi, block_length, n_out): the slice of its
    haloed block to convolve, with that padding, giving its n_out output pixels.
    """
    for _ in range(8):
        out_chunks, reads, bounds = _axis_plan(chunks, size, out_size, eff, stride, pad_lo)
        if len(chunks) == 1:
            before = after = 0
        else:
            before, after = _axis_depth(reads, bounds, size)
        merged = _merge_small(chunks, max(before, after)) if len(chunks) > 1 else chunks
        if merged == chunks:
            break
        chunks = merged
    else:  # pragma: no cover - merging only ever shrinks the halo, so this converges
        raise RuntimeError("convx.dask: could not plan the halo of a spatial axis")
    local = []
    for j, (lo, hi) in enumerate(reads):
        origin = max(bounds[j] - before, 0)           # first input pixel of the overlapped block
        length = min(bounds[j + 1] + after, size) - origin
        a, b = max(lo, 0), min(hi, size)
        if a < b:
            local.append((a - origin, b - origin, a - lo, hi - b, length, out_chunks[j]))
        else:                                          # padding only, or no outputs at all
            local.append((0, 0, 0, hi - lo, length, out_chunks[j]))
    return chunks, out_chunks, (before, after), local


# --------------------------------------------------------------------------- block functions

def _conv_block(xb, *, weight, bias, conv_kw, threads):
    return convx.conv2d(xb, weight, bias, threads=_task_threads(threads), **conv_kw)


def _conv_spatial_block(xb, *, weight, bias, plan_h, plan_w, conv_kw, threads, out_dtype,
                        block_id=None):
    """The output pixels anchored in this chunk: its slice of the haloed block, padded where
    the whole image is padded."""
    sh, eh, th, bh, lh, ph = plan_h[block_id[2]]
    sw, ew, tw, bw, lw, pw = plan_w[block_id[3]]
    if xb.shape[2:] != (lh, lw):  # pragma: no cover - the plan and map_overlap disagree
        raise RuntimeError(f"convx.dask: block {block_id} has spatial shape {xb.shape[2:]}, "
                           f"the halo plan expected {(lh, lw)}")
    if ph == 0 or pw == 0:  # a chunk with no output pixel anchored in it
        return np.empty((xb.shape[0], weight.shape[0], ph, pw), out_dtype)
    return convx.conv2d(xb[:, :, sh:eh, sw:ew], weight, bias, padding=((th, bh), (tw, bw)),
                        threads=_task_threads(threads), **conv_kw)


def _wgrad_block(xb, gb, *, weight_size, conv_kw, threads):
    dw = convx.conv2d_weight(xb, weight_size, gb, threads=_task_threads(threads), **conv_kw)
    return dw[None]


def _dgrad_block(gb, *, weight, channels_hw, conv_kw, threads):
    size = (gb.shape[0],) + channels_hw
    return convx.conv2d_input(size, weight, gb, threads=_task_threads(threads), **conv_kw)


# --------------------------------------------------------------------------- public API

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           algorithm="auto", threads=None):
    """2-D convolution of a Dask array, chunk by chunk: :func:`convx.conv2d` for Dask.

    Lazy: returns a Dask array; nothing is computed until it is asked for.
    Equal, bit for bit, to ``convx.conv2d`` of the whole array with the same
    arguments and algorithm, for every chunking this accepts.

    Parameters
    ----------
    input : dask.array.Array, shape (N, C, H, W) or (C, H, W)
        Chunked along N (image sets), along H and W (large images), or both;
        C must be one chunk. Any other array is wrapped as a single chunk.
    weight : array_like, shape (K, C/groups, R, S)
    bias : array_like, shape (K,), optional
        numpy arrays (every task gets a copy); a Dask array is a TypeError.
    stride, padding, dilation, groups, algorithm
        As in :func:`convx.conv2d`, for the whole array: ``padding="same"``
        pads the whole image, not each chunk.
    threads : int, optional
        convx threads per task. None: convx's default in the worker process
        divided by the Dask threads running there (see the module notes).

    Returns
    -------
    dask.array.Array, shape (N, K, P, Q) (or (K, P, Q))
        Chunked like ``input`` along N; along H (W), output pixel ``p``
        belongs to the chunk holding input pixel ``p * stride``, so chunk
        sizes that are multiples of the stride give ``chunk // stride``.

    Raises
    ------
    ValueError
        ``input`` chunked along C, with unknown chunk sizes, or arguments
        ``convx.conv2d`` would refuse (checked before anything runs).
    TypeError
        A Dask ``weight`` or ``bias``, or a dtype convx cannot compute in.

    Examples
    --------
    >>> import numpy as np, dask.array as da, convx, convx.dask
    >>> x = da.ones((4, 1, 8, 8), chunks=(2, 1, 8, 8))      # two chunks of 2 images
    >>> w = np.ones((1, 1, 3, 3))
    >>> y = convx.dask.conv2d(x, w, padding="same")
    >>> y.chunks
    ((2, 2), (1,), (8,), (8,))
    >>> z = convx.dask.conv2d(da.ones((1, 1, 8, 8), chunks=4), w, padding="same")
    >>> np.array_equal(z.compute(), convx.conv2d(np.ones((1, 1, 8, 8)), w, padding="same"))
    True
    """
    x = _as_dask("input", input)
    w = _small("weight", weight)
    b = None if bias is None else _small("bias", bias)
    unbatched = _batched("input", x)
    if unbatched:
        x = x[None]
    if w.ndim != 4:
        raise ValueError(f"weight must be a 4-D (K, C/groups, R, S) array, got {w.ndim}-D "
                         f"shape {w.shape}")
    geo = _api._geometry(x.shape, w.shape, stride, padding, dilation, groups)
    if b is not None and b.shape != (geo.K,):
        raise ValueError(f"bias must have shape (K,) = ({geo.K},) to match weight shape "
                         f"{w.shape}, got shape {b.shape}")
    dtype = _api._compute_dtype(x.dtype, w.dtype, *(() if b is None else (b.dtype,)))
    algorithm = _api._algorithm(algorithm)
    threads = _threads_arg(threads)
    if len(x.chunks[1]) > 1:
        raise ValueError(f"input is chunked along C (channels) in {len(x.chunks[1])} chunks "
                         f"{x.chunks[1]}; convx.dask.conv2d needs all channels of a pixel in "
                         f"one chunk: rechunk with input.rechunk({{1: -1}})")
    conv_kw = dict(stride=geo.stride, dilation=geo.dilation, groups=geo.groups,
                   algorithm=algorithm)
    meta = np.empty((0, 0, 0, 0), dtype)

    if len(x.chunks[2]) == 1 and len(x.chunks[3]) == 1:
        y = x.map_blocks(_conv_block, weight=w, bias=b, threads=threads,
                         conv_kw=dict(conv_kw, padding=padding),
                         chunks=(x.chunks[0], (geo.K,), (geo.P,), (geo.Q,)),
                         dtype=dtype, meta=meta)
    else:
        eff = [(k - 1) * d + 1 for k, d in zip((geo.R, geo.S), geo.dilation)]
        axes = [_spatial_axis(x.chunks[2 + a], (geo.H, geo.W)[a], (geo.P, geo.Q)[a], eff[a],
                              geo.stride[a], geo.padding[a][0]) for a in range(2)]
        (ch, oh, dh, plan_h), (cw, ow, dw, plan_w) = axes
        if (ch, cw) != x.chunks[2:]:
            x = x.rechunk({2: ch, 3: cw})
        y = da.map_overlap(_conv_spatial_block, x, depth={0: 0, 1: 0, 2: dh, 3: dw},
                           boundary="none", trim=False, allow_rechunk=False,
                           weight=w, bias=b, plan_h=tuple(plan_h), plan_w=tuple(plan_w),
                           conv_kw=conv_kw, threads=threads, out_dtype=dtype,
                           chunks=(x.chunks[0], (geo.K,), oh, ow), dtype=dtype, meta=meta)
    return y[0] if unbatched else y


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1,
                  *, algorithm="auto", threads=None, split_every=None):
    """Weight gradient over a batch-chunked Dask array: per-chunk gradients, tree-summed.

    The data-parallel step of training: each chunk's images give a partial
    :func:`convx.conv2d_weight` on the worker that holds them, and Dask's tree
    reduction sums the partials, so only weight-sized arrays move. Lazy.

    Parameters
    ----------
    input : dask.array.Array or array_like, shape (N, C, H, W) or (C, H, W)
        Chunked along N only.
    weight_size : tuple of 4 ints
        (K, C/groups, R, S).
    grad_output : dask.array.Array or array_like, shape (N, K, P, Q)
        Chunked along N exactly like ``input``. When only one of the two is a Dask
        array, the other is split along N like it.
    stride, padding, dilation, groups, algorithm, threads
        As in :func:`conv2d`.
    split_every : int, optional
        Partials summed per node of the reduction tree (Dask's default when None).

    Returns
    -------
    dask.array.Array, shape weight_size, one chunk
        Equal to ``convx.conv2d_weight`` of the whole arrays up to the order
        of the sum over chunks (exactly equal for integer-valued float64 data).

    Raises
    ------
    ValueError
        Chunks along any axis but N, different N chunks in ``input`` and
        ``grad_output``, or arguments ``convx.conv2d_weight`` would refuse.

    Examples
    --------
    >>> import numpy as np, dask.array as da, convx, convx.dask
    >>> x = da.ones((4, 1, 3, 3), chunks=(1, 1, 3, 3))
    >>> g = da.ones((4, 1, 2, 2), chunks=(1, 1, 2, 2))
    >>> convx.dask.conv2d_weight(x, (1, 1, 2, 2), g).compute()[0, 0]
    array([[16., 16.],
           [16., 16.]])
    """
    # A numpy operand is split along N like the Dask one.
    x = input if isinstance(input, da.Array) else _api._array("input", input)
    gy = (grad_output if isinstance(grad_output, da.Array)
          else _api._array("grad_output", grad_output))
    if isinstance(x, da.Array):
        x = _as_dask("input", x)
    if isinstance(gy, da.Array):
        gy = _as_dask("grad_output", gy)
    unbatched = _batched("input", x)
    wsize = _api._shape_tuple("weight_size", weight_size, (4,))
    xs = (1,) + x.shape if unbatched else x.shape
    geo = _api._geometry(xs, wsize, stride, padding, dilation, groups,
                         weight_name="weight_size")
    expected = geo.output_shape[1:] if unbatched else geo.output_shape
    if gy.shape != expected:
        raise ValueError(f"grad_output must have the forward output's shape {expected} "
                         f"(input shape {x.shape}, weight_size {wsize}), got {gy.shape}")
    if unbatched:
        x, gy = x[None], gy[None]
    if not isinstance(x, da.Array):
        x = da.from_array(x, chunks=(gy.chunks[0] if isinstance(gy, da.Array) else -1,
                                     -1, -1, -1))
    if not isinstance(gy, da.Array):
        gy = da.from_array(gy, chunks=(x.chunks[0], -1, -1, -1))
    dtype = _api._compute_dtype(x.dtype, gy.dtype)
    algorithm = _api._algorithm(algorithm)
    threads = _threads_arg(threads)
    if split_every is not None:
        split_every = _api._int("split_every", split_every, 2)
    op = "convx.dask.conv2d_weight"
    _check_batch_chunks(op, "input", x, "NCHW")
    _check_batch_chunks(op, "grad_output", gy, "NKPQ")
    if x.chunks[0] != gy.chunks[0]:
        raise ValueError(f"input and grad_output must be chunked alike along N for {op}: "
                         f"input has N chunks {x.chunks[0]}, grad_output {gy.chunks[0]}; "
                         f"rechunk with grad_output.rechunk({{0: input.chunks[0]}})")
    conv_kw = dict(stride=geo.stride, padding=padding, dilation=geo.dilation,
                   groups=geo.groups, algorithm=algorithm)
    partials = da.blockwise(
        _wgrad_block, ("n", "k", "c", "r", "s"),
        x, ("n", "xc", "xh", "xw"), gy, ("n", "gk", "gp", "gq"),
        new_axes=dict(zip("kcrs", wsize)), adjust_chunks={"n": 1}, concatenate=True,
        weight_size=wsize, conv_kw=conv_kw, threads=threads,
        dtype=dtype, meta=np.empty((0,) * 5, dtype))
    return partials.sum(axis=0, dtype=dtype, split_every=split_every)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 *, algorithm="auto", threads=None):
    """Input gradient of a batch-chunked Dask ``grad_output``, chunk by chunk.

    :func:`convx.conv2d_input` for each chunk of images; the result is chunked
    along N like ``grad_output`` and equal, bit for bit, to the single call.

    Parameters
    ----------
    input_size : tuple of 4 (or 3) ints
    weight : array_like, shape (K, C/groups, R, S)
    grad_output : dask.array.Array, shape (N, K, P, Q) (3-D if input_size is)
        Chunked along N only.
    stride, padding, dilation, groups, algorithm, threads
        As in :func:`conv2d`.

    Returns
    -------
    dask.array.Array, shape input_size

    Examples
    --------
    >>> import numpy as np, dask.array as da, convx, convx.dask
    >>> g = da.ones((2, 1, 2, 2), chunks=(1, 1, 2, 2))
    >>> convx.dask.conv2d_input((2, 1, 3, 3), np.ones((1, 1, 2, 2)), g).compute()[1, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    isize = _api._shape_tuple("input_size", input_size, (3, 4))
    w = _small("weight", weight)
    gy = _as_dask("grad_output", grad_output)
    if w.ndim != 4:
        raise ValueError(f"weight must be a 4-D (K, C/groups, R, S) array, got {w.ndim}-D "
                         f"shape {w.shape}")
    unbatched = len(isize) == 3
    xs = (1,) + isize if unbatched else isize
    geo = _api._geometry(xs, w.shape, stride, padding, dilation, groups,
                         input_name="input_size")
    expected = geo.output_shape[1:] if unbatched else geo.output_shape
    if gy.shape != expected:
        raise ValueError(f"grad_output must have the forward output's shape {expected} "
                         f"(input_size {isize}, weight shape {w.shape}), got {gy.shape}")
    if unbatched:
        gy = gy[None]
    dtype = _api._compute_dtype(w.dtype, gy.dtype)
    algorithm = _api._algorithm(algorithm)
    threads = _threads_arg(threads)
    _check_batch_chunks("convx.dask.conv2d_input", "grad_output", gy, "NKPQ")
    conv_kw = dict(stride=geo.stride, padding=padding, dilation=geo.dilation,
                   groups=geo.groups, algorithm=algorithm)
    dx = gy.map_blocks(_dgrad_block, weight=w,
                       channels_hw=(geo.C, geo.H, geo.W), conv_kw=conv_kw, threads=threads,
                       chunks=(gy.chunks[0], (geo.C,), (geo.H,), (geo.W,)),
                       dtype=dtype, meta=np.empty((0, 0, 0, 0), dtype))
    return dx[0] if unbatched else dx
