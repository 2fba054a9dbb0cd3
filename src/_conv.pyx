# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython glue between convx's Python API and its C drivers.

This is the only layer with OpenMP: each public operation is planned once by
the C layer (a list of independent work items whose split depends only on the
geometry), the per-thread workspace is allocated here with numpy (so a failed
allocation is a MemoryError before any kernel runs), and the items run in a
``prange`` with the GIL released. Parallel strategy, the same for every
operation: items write disjoint parts of the result, so no synchronisation is
needed beyond the implicit barrier at the end of the loop.

Arguments arrive validated by ``convx._api``: C-contiguous, aligned, native
float32 or float64 arrays of consistent shapes. Nothing here checks them again.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange, threadid

from _cx cimport *

# Workspace slots are padded to 64 bytes so that threads never share a cache line.
cdef Py_ssize_t _ALIGN_ELEMS = 16
# a number per forward call (cx_conv2d_plan.dk_stamp), drawn with the GIL held
cdef long long _stamp = 0


cdef long long _next_stamp():
    global _stamp
    _stamp += 1
    return _stamp


cdef void _fill_desc(cx_conv2d_desc *d, tuple g):
    (d.N, d.C, d.H, d.W, d.K, d.R, d.S, d.P, d.Q, d.stride_h, d.stride_w,
     d.dil_h, d.dil_w, d.pad_top, d.pad_left, d.groups) = g
    d.pad_mode = CX_PAD_ZEROS


cdef int _pad_mode_for(cx_conv2d_desc *d, cx_conv2d_plan *pl, int pad_mode) except -1:
    """Set a padding mode other than zeros, which only the register-blocked
    direct kernels fill into their bands (the caller checked, with plan_info)."""
    if pad_mode != CX_PAD_ZEROS and not (pl.algo == CX_ALGO_DIRECT and pl.dk):
        raise ValueError("padding modes other than zeros run only on the direct kernels")
    d.pad_mode = pad_mode
    return 0


cdef inline void _skip_padding(cx_conv2d_plan *pl, bint allowed, bint more=False,
                               int *nonfinite=NULL) noexcept:
    """Where allowed (zero padding, a path whose tiles have the forms) and the
    plan has edge rows (dk_etop, dk_ebot: their taps that reach the image only),
    edge columns (dk_ecol: tiles without zero padding's pixels) or `more` such
    work, the direct tiles leave zero padding's products out (dk_edge). The
    caller then marks the NaNs a skipped 0 * inf would have made; weight
    gradients give nonfinite, which an item that skipped a product with a
    non-finite grad_output value sets."""
    if allowed and pl.dk and (pl.dk_etop + pl.dk_ebot > 0 or pl.dk_ecol or more):
        pl.dk_edge = 1
        if nonfinite != NULL:
            pl.dk_nonfinite = nonfinite


cdef inline bint _fwdr_rows(cx_conv2d_desc *d, cx_conv2d_plan *pl) noexcept:
    """Whether d's forward may run the one-channel row-walking tiles (dk_fwdr:
    a block of one output channel, unit vertical stride and dilation, square
    3x3 or 5x5 kernels) on bands with rows of zero padding, whose products
    they then leave out where the plan allows (dk_edge; dk_fwdre)."""
    cdef Py_ssize_t kg = d.K // d.groups
    return (pl.dk and pl.dk_mode == 1 and d.stride_h == 1 and d.dil_h == 1 and d.R == d.S
            and (d.R == 3 or d.R == 5) and (kg % 2 == 1 or pl.dk_mr == 1)
            and (d.pad_top > 0 or d.P + d.R - 1 - d.pad_top > d.H))


cdef int _algo_code(str algorithm) except -1:
    if algorithm == "direct":
        return CX_ALGO_DIRECT
    if algorithm == "im2col":
        return CX_ALGO_IM2COL
    if algorithm == "direct_plain":     # internal: the direct loops without workspace
        return CX_ALGO_DIRECT_PLAIN
    raise ValueError(f"unknown algorithm {algorithm!r}")


cdef inline const floating *_in(const floating[::1] a) noexcept:
    """Data pointer of a flat read-only operand; NULL when empty (never dereferenced)."""
    if a.shape[0] == 0:
        return NULL
    return &a[0]


cdef inline floating *_out(floating[::1] a) noexcept:
    """Data pointer of a flat result; NULL when empty."""
    if a.shape[0] == 0:
        return NULL
    return &a[0]


cdef object _plan(cx_conv2d_desc *d, cx_conv2d_plan *pl, int op, str algorithm, object dtype,
                  int nthreads, Py_ssize_t *ws_stride, int *nt):
    """Plan the operation and allocate one workspace slot per thread."""
    if dtype == np.float32:
        cx_f32_conv2d_plan(d, op, _algo_code(algorithm), pl)
    else:
        cx_f64_conv2d_plan(d, op, _algo_code(algorithm), pl)
    pl.dk_stamp = 0     # (the forward's callers draw one)
    return _slots(pl, dtype, nthreads, ws_stride, nt)


# tests: 1 fills every workspace with NaN (a kernel that reads workspace it did
# not write then spreads NaN into its result instead of reading zeros by luck);
# 2 also writes the next call's stamp at the start of every slot (what a
# recycled allocation may hold by chance), which _slots must clear
cdef int _poison = 0


def _set_poison_workspace(int mode):
    """Developer switch: workspaces start as NaN (mode 1; 2: and every slot
    starts with the stamp the next forward call will draw) rather than as left
    by the allocator; returns the previous mode. Not safe while kernels run."""
    global _poison
    was = _poison
    _poison = mode
    return was


cdef object _slots(cx_conv2d_plan *pl, object dtype, int nthreads, Py_ssize_t *ws_stride,
                   int *nt):
    """The planned operation's workspace: one slot per thread that has items,
    each starting with a zero stamp (cx_direct_impl.h: a slot whose stamp equals
    the call's keeps its band and tap offsets; memory left by the allocator may
    hold a small integer equal to it, and the first item would then read
    offsets it never computed)."""
    nt[0] = <int>max(1, min(<Py_ssize_t>nthreads, pl.nitems))
    ws_stride[0] = (<Py_ssize_t>pl.ws_elems + _ALIGN_ELEMS - 1) // _ALIGN_ELEMS * _ALIGN_ELEMS
    if _poison:
        ws = np.full(max(ws_stride[0] * nt[0], 1), np.nan, dtype=dtype)
        if _poison == 2 and ws_stride[0] > 0:
            heads = ws[:ws_stride[0] * nt[0]].reshape(nt[0], ws_stride[0])
            heads[:, :8 // ws.itemsize].view(np.int64)[:, 0] = _stamp + 1
    else:
        ws = np.empty(max(ws_stride[0] * nt[0], 1), dtype=dtype)
    if ws_stride[0] > 0:
        ws[:ws_stride[0] * nt[0]].reshape(nt[0], ws_stride[0])[:, :_ALIGN_ELEMS] = 0
    return ws


cdef object _prepack(cx_conv2d_desc *d, cx_conv2d_plan *pl, const void *w, object dtype, int nt,
                     bint nhwc=False):
    """Pack the weight once for all items (see cx_conv2d_plan.apacked; nhwc: into
    the order the channels-last kernels read); returns the buffer."""
    cdef Py_ssize_t unit
    if pl.apack_units == 0 or w == NULL:
        pl.apack_units = 0
        return None
    buf = np.empty(max(pl.apack_units * pl.apack_elems, 1), dtype=dtype)
    cdef Py_ssize_t npieces = pl.apack_units * max(pl.apack_parts, 1)
    cdef float[::1] b32
    cdef double[::1] b64
    if dtype == np.float32:
        b32 = buf
        with nogil:
            for unit in prange(npieces, num_threads=nt, schedule="static"):
                if nhwc:
                    cx_f32_conv2d_nhwc_prepack(d, pl, <const float *>w, &b32[0], unit)
                else:
                    cx_f32_conv2d_prepack(d, pl, <const float *>w, &b32[0], unit)
        pl.apacked = &b32[0]
    else:
        b64 = buf
        with nogil:
            for unit in prange(npieces, num_threads=nt, schedule="static"):
                if nhwc:
                    cx_f64_conv2d_nhwc_prepack(d, pl, <const double *>w, &b64[0], unit)
                else:
                    cx_f64_conv2d_prepack(d, pl, <const double *>w, &b64[0], unit)
        pl.apacked = &b64[0]
    return buf


cdef int _regpad(cx_conv2d_desc *d, cx_conv2d_plan *pl, object dtype, int pad_mode):
    """Whether the forward planned in pl runs under pad_mode with its streamed
    depthwise in-place tiles padding in registers (cx_*_conv2d_regpad)."""
    if pad_mode == CX_PAD_ZEROS or not (pl.algo == CX_ALGO_DIRECT and pl.dk):
        return 0
    d.pad_mode = pad_mode
    if np.dtype(dtype) == np.float32:
        return cx_f32_conv2d_regpad(d, pl)
    return cx_f64_conv2d_regpad(d, pl)


def regpad_forward(tuple geometry, object dtype, int pad_mode):
    """Whether conv2d_fwd on the direct kernels under pad_mode (a CX_PAD_*
    code) runs the streamed depthwise in-place tiles, the padding made in
    registers."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    _fill_desc(&d, geometry)
    if np.dtype(dtype) == np.float32:
        cx_f32_conv2d_plan(&d, CX_OP_FWD, CX_ALGO_DIRECT, &pl)
    else:
        cx_f64_conv2d_plan(&d, CX_OP_FWD, CX_ALGO_DIRECT, &pl)
    return bool(_regpad(&d, &pl, dtype, pad_mode))


def plan_info(tuple geometry, str op, str algorithm, object dtype, int pad_mode=0):
    """The work split and per-thread workspace of one operation, as a dict (for
    tests); register_padding: whether a forward under pad_mode (a CX_PAD_*
    code) runs the streamed depthwise in-place tiles, the padding made in
    registers."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef int regpad = 0
    _fill_desc(&d, geometry)
    code = {"fwd": CX_OP_FWD, "wgrad": CX_OP_WGRAD, "dgrad": CX_OP_DGRAD}[op]
    if np.dtype(dtype) == np.float32:
        cx_f32_conv2d_plan(&d, code, _algo_code(algorithm), &pl)
    else:
        cx_f64_conv2d_plan(&d, code, _algo_code(algorithm), &pl)
    if code == CX_OP_FWD:
        regpad = _regpad(&d, &pl, dtype, pad_mode)
    return dict(nitems=pl.nitems, tile=pl.tile, ntiles=pl.ntiles, kblock=pl.kblock,
                kblocks=pl.kblocks, cblock=pl.cblock, cblocks=pl.cblocks,
                nsplit=pl.nsplit, nper=pl.nper, nseg=pl.nseg, fwd_shift=bool(pl.fwd_shift), wgrad_gemm=bool(pl.wgrad_gemm),
                direct_kernels=bool(pl.dk), dk_mode=pl.dk_mode, dk_stream=bool(pl.dk_stream), in_place=bool(pl.dk_inplace), column_tile=pl.dk_qt, band_row=pl.dk_L, dk_tile=(pl.dk_mr, pl.dk_nv) if pl.op == CX_OP_FWD else (pl.dk_mk, pl.dk_mt),
                prepacked_weight_bytes=pl.apack_units * pl.apack_elems * np.dtype(dtype).itemsize,
                workspace_bytes=pl.ws_elems * np.dtype(dtype).itemsize,
                edge_rows=(pl.dk_etop, pl.dk_ebot), edge_columns=bool(pl.dk_ecol),
                register_padding=bool(regpad),
                path="avx2" if pl.path == CX_PATH_AVX2 else cx_isa_name(cx_active_isa()).decode())


def conv2d_fwd(const floating[::1] x, const floating[::1] w, const floating[::1] bias,
               floating[::1] y, tuple geometry, bint has_bias, str algorithm, int nthreads,
               int pad_mode=0):
    """y = conv2d(x, w) + bias, arrays flattened, geometry as in cx_conv2d_desc.
    Returns whether the kernels multiplied the zero padding by the weight (the
    register-blocked direct ones do), so that inf/NaN there already gave NaN
    (see convx._api._padding_nan_forward). Not where the channel-vector
    tiles' edge rows and columns or the one-channel row-walking tiles' zero
    rows skip the padding's taps (dk_edge): the caller then marks those NaNs
    as it does for im2col."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride
    cdef int nt
    _fill_desc(&d, geometry)
    dtype = np.float32 if floating is float else np.float64
    ws = _plan(&d, &pl, CX_OP_FWD, algorithm, dtype, nthreads, &ws_stride, &nt)
    pl.dk_stamp = _next_stamp()
    _pad_mode_for(&d, &pl, pad_mode)
    # (a reflect or replicate padding folded onto the taps where the tiles can)
    if floating is float:
        pl.dk_fold = cx_f32_conv2d_fold(&d, &pl)
    else:
        pl.dk_fold = cx_f64_conv2d_fold(&d, &pl)
    # (zero padding only: a padding mode's pixels are the image's)
    _skip_padding(&pl, pad_mode == 0, _fwdr_rows(&d, &pl))
    _fwd_items(&d, NULL, &pl, x, w, bias, y, has_bias, ws, ws_stride, nt)
    return bool(pl.algo == CX_ALGO_DIRECT and pl.dk and not pl.dk_edge)


cdef int _fwd_items(cx_conv2d_desc *d, cx_conv3d_depth *z, cx_conv2d_plan *pl,
                    const floating[::1] x, const floating[::1] w, const floating[::1] bias,
                    floating[::1] y, bint has_bias, object ws, Py_ssize_t ws_stride,
                    int nt) except -1:
    """Run a planned forward (2-D, or 3-D when z is not NULL) into y."""
    cdef Py_ssize_t item
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating *xp = _in(x)
    cdef const floating *wp = _in(w)
    cdef const floating *bp = _in(bias) if has_bias else NULL
    cdef floating *yp = _out(y)
    packed = _prepack(d, pl, wp, dtype, nt)   # kept alive until the loop ends
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if z != NULL:
                if floating is float:
                    cx_f32_conv3d_fwd(d, z, pl, xp, wp, bp, yp, item, wsp + threadid() * ws_stride)
                else:
                    cx_f64_conv3d_fwd(d, z, pl, xp, wp, bp, yp, item, wsp + threadid() * ws_stride)
            elif floating is float:
                cx_f32_conv2d_fwd(d, pl, xp, wp, bp, yp, item, wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_fwd(d, pl, xp, wp, bp, yp, item, wsp + threadid() * ws_stride)
    return 0


def conv2d_wgrad(const floating[::1] x, const floating[::1] dy, floating[::1] dw,
                 tuple geometry, str algorithm, int nthreads, int pad_mode=0):
    """dw = conv2d_weight(x, dy), arrays flattened. Returns whether inf / NaN in
    dy already gave the NaNs of the padding's products: True where the kernels
    multiplied the zero padding by dy, or left out only such products with
    finite dy values; else the caller marks them (convx._api._padding_nan_weight)."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride
    cdef int nt
    _fill_desc(&d, geometry)
    dtype = np.float32 if floating is float else np.float64
    ws = _plan(&d, &pl, CX_OP_WGRAD, algorithm, dtype, nthreads, &ws_stride, &nt)
    cdef int nonfinite = 0
    _pad_mode_for(&d, &pl, pad_mode)
    # (the channel-vector tiles' forms)
    _skip_padding(&pl, pl.dk_mode == 2 and pad_mode == 0, False, &nonfinite)
    _wgrad_items(&d, NULL, &pl, x, dy, dw, ws, ws_stride, nt)
    # True when the kernels multiplied the zero padding by grad_output (the
    # register-blocked direct path does) or left out only products with finite
    # grad_output values, so that inf/NaN there already gave NaN
    return bool(pl.dk and not nonfinite)


cdef int _wgrad_items(cx_conv2d_desc *d, cx_conv3d_depth *z, cx_conv2d_plan *pl,
                      const floating[::1] x, const floating[::1] dy, floating[::1] dw,
                      object ws, Py_ssize_t ws_stride, int nt) except -1:
    """Run a planned weight gradient (2-D, or 3-D when z is not NULL) into dw."""
    cdef Py_ssize_t item
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating *xp = _in(x)
    cdef const floating *dyp = _in(dy)
    cdef floating *dwp = _out(dw)
    cdef floating *outp
    cdef floating[::1] partv
    cdef Py_ssize_t chunk = 4096, nchunks, begin
    outp = dwp
    packed = _prepack(d, pl, dyp, dtype, nt)   # dY packed once (large Kg), kept alive
    if pl.nsplit > 1:
        # Strategy: one partial weight gradient per batch chunk (disjoint writes),
        # then a second loop adds the chunks in chunk order for disjoint ranges
        # of weight elements. Both loops synchronise only at their implicit barrier.
        partial = np.empty(pl.nsplit * pl.wsize, dtype=dtype)
        partv = partial
        outp = &partv[0]
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if z != NULL:
                if floating is float:
                    cx_f32_conv3d_wgrad(d, z, pl, xp, dyp, outp, item, wsp + threadid() * ws_stride)
                else:
                    cx_f64_conv3d_wgrad(d, z, pl, xp, dyp, outp, item, wsp + threadid() * ws_stride)
            elif floating is float:
                cx_f32_conv2d_wgrad(d, pl, xp, dyp, outp, item, wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_wgrad(d, pl, xp, dyp, outp, item, wsp + threadid() * ws_stride)
        if pl.nsplit > 1:
            nchunks = (pl.wsize + chunk - 1) // chunk
            for item in prange(nchunks, num_threads=nt, schedule="static"):
                begin = item * chunk
                if floating is float:
                    cx_f32_conv2d_wgrad_reduce(pl, outp, dwp, begin, min(begin + chunk, pl.wsize))
                else:
                    cx_f64_conv2d_wgrad_reduce(pl, outp, dwp, begin, min(begin + chunk, pl.wsize))
    return 0


cdef int _plan3d(cx_conv2d_desc *d, cx_conv3d_depth *z, cx_conv2d_plan *pl, tuple geometry,
                 tuple depth, object dtype, int op=CX_OP_FWD, str algorithm="direct") except -1:
    _fill_desc(d, geometry)
    (z.N, z.D, z.Do, z.T, z.stride, z.dil, z.pad) = depth
    f32 = np.dtype(dtype) == np.float32
    if op == CX_OP_WGRAD:
        if algorithm != "direct":
            raise ValueError(f"the 3-D weight gradient runs natively on 'direct' only, "
                             f"not {algorithm!r}")
        return cx_f32_conv3d_plan_wgrad(d, z, pl) if f32 else cx_f64_conv3d_plan_wgrad(d, z, pl)
    cdef int algo = _algo_code(algorithm)
    return (cx_f32_conv3d_plan_fwd(d, z, algo, pl) if f32
            else cx_f64_conv3d_plan_fwd(d, z, algo, pl))


def conv3d_plan_info(tuple geometry, tuple depth, object dtype, str op="fwd",
                     str algorithm="direct"):
    """The native 3-D plan (conv3d_fwd's / conv3d_wgrad's arguments) of the forward
    ("fwd") on the direct band kernels (algorithm "direct") or the stride-1
    row-band GEMM ("im2col"), or of the weight gradient ("wgrad", direct only);
    None where it does not apply (then the depth-folded 2-D form runs)."""
    cdef cx_conv2d_desc d
    cdef cx_conv3d_depth z
    cdef cx_conv2d_plan pl
    if not _plan3d(&d, &z, &pl, geometry, depth, dtype,
                   CX_OP_WGRAD if op == "wgrad" else CX_OP_FWD, algorithm):
        return None
    return dict(nitems=pl.nitems, tile=pl.tile, ntiles=pl.ntiles, cblock=pl.cblock,
                dk_mode=pl.dk_mode, depth_run=z.chunk, runs=z.chunks, band_row=pl.dk_L,
                nsplit=pl.nsplit, nper=pl.nper, fwd_shift=bool(pl.fwd_shift),
                workspace_bytes=pl.ws_elems * np.dtype(dtype).itemsize,
                edge_rows=(pl.dk_etop, pl.dk_ebot), edge_columns=bool(pl.dk_ecol),
                path="avx2" if pl.path == CX_PATH_AVX2 else cx_isa_name(cx_active_isa()).decode())


def conv3d_wgrad(const floating[::1] x, const floating[::1] dy, floating[::1] dw,
                 tuple geometry, tuple depth, int nthreads):
    """dw (K, C/groups, T, R, S) = conv3d_weight(x (N, C, D, H, W), dy (N, K, Do, P,
    Q)), arrays flattened, channels first, zero padding; geometry and depth as
    in conv3d_fwd. Raises ValueError where conv3d_plan_info(..., "wgrad") is None."""
    cdef cx_conv2d_desc d
    cdef cx_conv3d_depth z
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride
    cdef int nt
    dtype = np.float32 if floating is float else np.float64
    if not _plan3d(&d, &z, &pl, geometry, depth, dtype, CX_OP_WGRAD):
        raise ValueError(f"no direct 3-D weight-gradient plan for geometry {geometry}, "
                         f"depth {depth}")
    ws = _slots(&pl, dtype, nthreads, &ws_stride, &nt)
    _wgrad_items(&d, &z, &pl, x, dy, dw, ws, ws_stride, nt)


def conv3d_fwd(const floating[::1] x, const floating[::1] w, const floating[::1] bias,
               floating[::1] y, tuple geometry, tuple depth, bint has_bias, int nthreads,
               str algorithm="direct", bint skip_padding=False):
    """y (N, K, Do, P, Q) = conv3d(x (N, C, D, H, W), w (K, C/groups, T, R, S)) + bias,
    arrays flattened, channels first, zero padding. geometry: the cx_conv2d_desc of
    the depth-folded 2-D convolution (N*Do images of C*T channels, see
    cx_conv3d_depth); depth: (N, D, Do, T, stride, dilation, pad) along the depth;
    algorithm: "direct" (band kernels) or "im2col" (stride-1 row-band GEMM).
    skip_padding: the channel-vector tiles may leave out the products of the
    padding's zeros (edge rows and columns, as conv2d_fwd's); only for a
    finite weight (no NaN of 0 * inf there to mark: the caller checks).
    Raises ValueError where that algorithm's native plan does not apply
    (conv3d_plan_info is None)."""
    cdef cx_conv2d_desc d
    cdef cx_conv3d_depth z
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride
    cdef int nt
    dtype = np.float32 if floating is float else np.float64
    if not _plan3d(&d, &z, &pl, geometry, depth, dtype, CX_OP_FWD, algorithm):
        raise ValueError(f"no native 3-D {algorithm} plan for geometry {geometry}, "
                         f"depth {depth}")
    ws = _slots(&pl, dtype, nthreads, &ws_stride, &nt)
    # (rows, columns, or depths: dk_tperm orders the taps depth-major)
    _skip_padding(&pl, skip_padding, pl.dk_tperm > 1 and z.pad > 0)
    _fwd_items(&d, &z, &pl, x, w, bias, y, has_bias, ws, ws_stride, nt)


cdef object _dgrad_as_forward(tuple geometry, object w, object dtype, str algorithm="im2col",
                              int nthreads=1):
    """For stride 1, the input gradient is a forward convolution of the zero-padded
    grad_output with the flipped, transposed weight (padding (R-1)*dh - pad_top,
    (S-1)*dw - pad_left; no column matrix, no col2im). Returns that forward's
    (geometry, weight) when the indirect stride-1 forward (im2col) or the
    register-blocked direct forward (direct) handles it, else None.
    Not used for non-finite weights: the forward would multiply the padding's
    zeros by them (0 * inf = NaN) where the scatter form never does."""
    (N, C, H, W, K, R, S, P, Q, sh, sw, dh, dw, pt, pl, G) = geometry
    if sh != 1 or sw != 1 or N * C * H * W == 0 or K == 0:
        return None
    g2 = (N, K, P, Q, C, R, S, H, W, 1, 1, dh, dw, (R - 1) * dh - pt, (S - 1) * dw - pl, G)
    if algorithm == "im2col":
        if C // G < 8:      # a thin M (input channels) wastes most of the MR-row tile
            return None
        if not plan_info(g2, "fwd", "im2col", dtype)["fwd_shift"]:
            # the packed forward's tiles span images; the col2im form's tiles
            # end with each image in a partial NR-wide panel: worth the flipped
            # weight's copy where that wastes > 5% of the lanes (14 x 14 = 196
            # pixels in 5 panels of 48: 18%; 28 x 28: 4%, measured no gain)
            nr = kernel_info()["float32" if dtype == np.float32 else "float64"]["nr"]
            lanes = -(-(P * Q) // nr) * nr
            if (lanes - P * Q) * 20 <= lanes:
                return None
    elif not plan_info(g2, "fwd", "direct", dtype)["direct_kernels"]:
        return None
    wt = _flip_weight(w, geometry, dtype, nthreads)
    return None if wt is None else (g2, wt)


cdef object _flip_weight(object w, tuple geometry, object dtype, int nthreads):
    """The flipped, transposed weight of _dgrad_as_forward (G, C/G, K/G, R, S),
    flattened; None where w holds inf or nan (cx_*_dgrad_flip_weight: 16 input
    channels of a group a unit, in parallel)."""
    cdef cx_conv2d_desc d
    _fill_desc(&d, geometry)
    cdef Py_ssize_t units = d.groups * ((d.C // d.groups + 15) // 16), u
    wt = np.empty(d.K * (d.C // d.groups) * d.R * d.S, dtype=dtype)
    cdef int nt = max(1, min(nthreads, units)), bad = 0
    cdef const float[::1] wf
    cdef float[::1] tf
    cdef const double[::1] wd
    cdef double[::1] td
    if dtype == np.float32:
        wf = w
        tf = wt
        with nogil:
            for u in prange(units, num_threads=nt, schedule="static"):
                bad |= cx_f32_dgrad_flip_weight(&d, &wf[0], &tf[0], u)
    else:
        wd = w
        td = wt
        with nogil:
            for u in prange(units, num_threads=nt, schedule="static"):
                bad |= cx_f64_dgrad_flip_weight(&d, &wd[0], &td[0], u)
    return None if bad else wt


def conv2d_dgrad(const floating[::1] w, const floating[::1] dy, floating[::1] dx,
                 tuple geometry, str algorithm, int nthreads):
    """dx = conv2d_input(w, dy), arrays flattened."""
    dtype = np.float32 if floating is float else np.float64
    as_fwd = _dgrad_as_forward(geometry, w, dtype, algorithm, nthreads)
    if as_fwd is not None:
        g2, wt = as_fwd
        conv2d_fwd(dy, wt, np.empty(0, dtype), dx, g2, False, algorithm, nthreads)
        return
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride, item
    cdef int nt
    _fill_desc(&d, geometry)
    ws = _plan(&d, &pl, CX_OP_DGRAD, algorithm, dtype, nthreads, &ws_stride, &nt)
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating *wp = _in(w)
    cdef const floating *dyp = _in(dy)
    cdef floating *dxp = _out(dx)
    packed = _prepack(&d, &pl, wp, dtype, nt)   # kept alive until the loop ends
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_dgrad(&d, &pl, wp, dyp, dxp, item, wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_dgrad(&d, &pl, wp, dyp, dxp, item, wsp + threadid() * ws_stride)


cdef tuple _fold_args(tuple fold, Py_ssize_t Hp, Py_ssize_t Wp, str who):
    """A fold's (H, W, top, left, src_h, src_w), checked: the input inside the
    padded Hp x Wp and every padded row / column's source inside the input."""
    H, W, top, left, src_h, src_w = fold
    src_h = np.ascontiguousarray(src_h, dtype=np.intp)
    src_w = np.ascontiguousarray(src_w, dtype=np.intp)
    if (src_h.shape[0] != Hp or src_w.shape[0] != Wp or top < 0 or left < 0
            or Hp < H + top or Wp < W + left or H <= 0 or W <= 0):
        raise ValueError(f"{who}: inconsistent sizes: padded {Hp} x {Wp}, fold {fold[:4]}")
    cdef const Py_ssize_t[::1] sv
    cdef Py_ssize_t i, n
    for name, src, n in (("src_h", src_h, H), ("src_w", src_w, W)):
        sv = src
        for i in range(sv.shape[0]):
            if sv[i] < 0 or sv[i] >= n:
                raise ValueError(f"{who}: {name}[{i}] = {sv[i]} outside [0, {n})")
    return H, W, top, left, src_h, src_w


def conv2d_dgrad_fold(const floating[::1] w, const floating[::1] dy, floating[::1] dx,
                      tuple geometry, tuple fold, int nthreads):
    """The input gradient under a padding mode, made and folded in one pass
    (cx_*_conv2d_fwd_fold). geometry: the padded problem (input_size the
    padded input, no padding); fold = (H, W, top, left, src_h, src_w): the
    unpadded input's size, the padding, and the input row / column each padded
    row / column copies (intp arrays); dx: (N, C, H, W) flattened. Returns
    False, having written nothing, where the fused form does not apply (not
    the stride-1 forward form on direct kernels without column tiles, or a
    non-finite weight): the caller then computes the padded gradient and folds
    it (fold_pad2d). The sums are the same as fold_pad2d's, added in another
    order (the padded rows last)."""
    dtype = np.float32 if floating is float else np.float64
    as_fwd = _dgrad_as_forward(geometry, w, dtype, "direct", nthreads)
    if as_fwd is None:
        return False
    g2, wt = as_fwd
    cdef Py_ssize_t H, W, top, left, item, ws_stride, ystride
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef int nt
    _fill_desc(&d, g2)
    ws = _plan(&d, &pl, CX_OP_FWD, "direct", dtype, nthreads, &ws_stride, &nt)
    pl.dk_stamp = _next_stamp()
    if not pl.dk or pl.dk_qt != 0 or pl.dk_nhwc:
        return False
    # (a finite weight: the products with the zero-padded grad_output's zeros
    # are zeros, left out where the tiles can; the same sums)
    _skip_padding(&pl, True, _fwdr_rows(&d, &pl))
    H, W, top, left, src_h_o, src_w_o = _fold_args(fold, d.P, d.Q, "conv2d_dgrad_fold")
    if dx.shape[0] != d.N * d.K * H * W:
        raise ValueError(f"conv2d_dgrad_fold: inconsistent sizes {geometry}, {fold[:4]}")
    cdef const Py_ssize_t[::1] src_h = src_h_o
    cdef const Py_ssize_t[::1] src_w = src_w_o
    # one group's padded planes a thread, reused group after group (in L1 / L2)
    ystride = ((d.K // d.groups) * d.P * d.Q + _ALIGN_ELEMS - 1) // _ALIGN_ELEMS * _ALIGN_ELEMS
    yb = np.empty(ystride * nt, dtype=dtype)
    cdef floating[::1] ybv = yb
    cdef floating *ybp = &ybv[0]
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating[::1] wtv = wt
    cdef const floating *wtp = &wtv[0]
    cdef const floating *dyp = &dy[0]
    cdef floating *dxp = &dx[0]
    # bands of rows: the padded rows' gradients, folded in after the items
    # (they land on rows that other items write); whole planes fold their own
    cdef Py_ssize_t planes = d.N * d.K, nring = d.P - H if pl.ntiles > 1 else 0
    ring = np.empty(max(planes * nring * d.Q, 1), dtype=dtype)
    cdef floating[::1] ringv = ring
    cdef floating *ringp = &ringv[0]
    # a result far beyond the caches is written once, never read: streamed out
    cdef int stream = dx.shape[0] * np.dtype(dtype).itemsize > 8 * 2**20
    packed = _prepack(&d, &pl, wtp, dtype, nt)   # kept alive until the loop ends
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_fwd_fold(&d, &pl, dyp, wtp, dxp, ringp, H, W, top, left,
                                       &src_h[0], &src_w[0], stream, item, wsp + threadid() * ws_stride,
                                       ybp + threadid() * ystride)
            else:
                cx_f64_conv2d_fwd_fold(&d, &pl, dyp, wtp, dxp, ringp, H, W, top, left,
                                       &src_h[0], &src_w[0], stream, item, wsp + threadid() * ws_stride,
                                       ybp + threadid() * ystride)
        if nring > 0:
            for item in prange(planes, num_threads=nt, schedule="static"):
                if floating is float:
                    cx_f32_conv2d_fold_ring(dxp, ringp, H, W, d.P, d.Q, top, left, &src_h[0],
                                            &src_w[0], item)
                else:
                    cx_f64_conv2d_fold_ring(dxp, ringp, H, W, d.P, d.Q, top, left, &src_h[0],
                                            &src_w[0], item)
    return True


def conv2d_dgrad_ring(const floating[::1] w, const floating[::1] dy, floating[::1] dx,
                      tuple geometry, tuple fold, int nthreads):
    """The input gradient under a padding mode for thin groups, from the
    zeros-padding one as it is made (cx_*_conv2d_fwd_ring; items of bands of
    rows leave the padded rows to cx_*_conv2d_ring_rows): geometry is the
    problem (stride 1, its padding), fold = (H, W, top, left, src_h, src_w)
    as for conv2d_dgrad_fold over the padded Hp x Wp; dx: (N, C, H, W)
    flattened. Returns False, having written nothing, where the
    zeros-padding gradient's forward form does not run on the direct kernels
    without column tiles (or the stride is not 1, or the weight is not
    finite), or streams its output where the padded positions do not fold
    onto the depthwise in-place tiles' taps (cx_*_conv2d_tapfold): the
    caller then takes another form. The sums: the zeros-padding gradient's,
    then each padded position's (its taps that reach grad_output) added at
    the input position it copied, padded columns before padded rows; folded
    (streamed), the padded positions' products inside the tiles' sums."""
    dtype = np.float32 if floating is float else np.float64
    as_fwd = _dgrad_as_forward(geometry, w, dtype, "direct", nthreads)
    if as_fwd is None:
        return False
    g2, wt = as_fwd
    cdef Py_ssize_t item, ws_stride, Hp, Wp, H, W, top, left
    cdef cx_conv2d_desc d, d2
    cdef cx_conv2d_plan pl
    cdef int nt
    _fill_desc(&d, geometry)
    _fill_desc(&d2, g2)
    ws = _plan(&d2, &pl, CX_OP_FWD, "direct", dtype, nthreads, &ws_stride, &nt)
    pl.dk_stamp = _next_stamp()
    if not pl.dk or pl.dk_qt != 0 or pl.dk_nhwc:
        return False
    Hp = d.P + (d.R - 1) * d.dil_h
    Wp = d.Q + (d.S - 1) * d.dil_w
    H, W, top, left, src_h_o, src_w_o = _fold_args(fold, Hp, Wp, "conv2d_dgrad_ring")
    if (H != d.H or W != d.W or top != d.pad_top or left != d.pad_left
            or dx.shape[0] != d.N * d.C * H * W or dy.shape[0] != d.N * d.K * d.P * d.Q
            or w.shape[0] != d.K * (d.C // d.groups) * d.R * d.S):
        raise ValueError(f"conv2d_dgrad_ring: inconsistent sizes {geometry}, {fold[:4]}")
    cdef const Py_ssize_t[::1] src_h = src_h_o
    cdef const Py_ssize_t[::1] src_w = src_w_o
    cdef Py_ssize_t nbuf = max(Wp, d.H)
    if pl.dk_stream:
        # a streamed output: only where the padded positions fold onto the
        # in-place tiles' taps (the ring's additions would read dx back from
        # memory); buf then holds the tiles' tables (a block of channels' 3 x
        # 20 vectors of at most 16 lanes each)
        if floating is float:
            pl.dk_tapfold = cx_f32_conv2d_tapfold(&d, &d2, &pl, Hp, Wp, &src_h[0], &src_w[0])
        else:
            pl.dk_tapfold = cx_f64_conv2d_tapfold(&d, &d2, &pl, Hp, Wp, &src_h[0], &src_w[0])
        if not pl.dk_tapfold:
            return False
        # (the tags of pl.cblock slots, then their tables, 64-byte aligned)
        nbuf = max(nbuf, pl.cblock * (8 // sizeof(floating) + 3 * 20 * 16) + 16)
    # (zeros: no slot's tag is a call's, stamps start at 1)
    buf = (np.zeros if pl.dk_tapfold else np.empty)(nbuf * nt, dtype=dtype)
    cdef floating[::1] bufv = buf
    cdef floating *bufp = &bufv[0]
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating[::1] wtv = wt
    cdef const floating *wtp = &wtv[0]
    cdef const floating *wp = &w[0]
    cdef const floating *dyp = &dy[0]
    cdef floating *dxp = &dx[0]
    cdef Py_ssize_t planes = d.N * d.C
    packed = _prepack(&d2, &pl, wtp, dtype, nt)   # kept alive until the loop ends
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_fwd_ring(&d, &d2, &pl, dyp, wp, wtp, dxp, top, left, Wp,
                                       &src_h[0], &src_w[0], item,
                                       wsp + threadid() * ws_stride, bufp + threadid() * nbuf)
            else:
                cx_f64_conv2d_fwd_ring(&d, &d2, &pl, dyp, wp, wtp, dxp, top, left, Wp,
                                       &src_h[0], &src_w[0], item,
                                       wsp + threadid() * ws_stride, bufp + threadid() * nbuf)
        if Hp > H and pl.ntiles > 1:     # (whole planes: the items add their padded rows)
            for item in prange(planes, num_threads=nt, schedule="static"):
                if floating is float:
                    cx_f32_conv2d_ring_rows(&d, dyp, wp, dxp, top, left, Hp, Wp, &src_h[0],
                                            &src_w[0], item, bufp + threadid() * nbuf)
                else:
                    cx_f64_conv2d_ring_rows(&d, dyp, wp, dxp, top, left, Hp, Wp, &src_h[0],
                                            &src_w[0], item, bufp + threadid() * nbuf)
    return True


def conv2d_dgrad_border(const floating[::1] w, const floating[::1] dy, floating[::1] dx,
                        tuple geometry, tuple fold, int nthreads):
    """The input gradient under a padding mode from the zeros-padding one: dx
    (flattened (N, C, H, W), holding the zeros-padding input gradient of
    geometry, a stride-1 convolution with its padding) += the gradient of
    every padded position, computed from the taps that reach grad_output only
    (cx_*_conv2d_dgrad_border) and added at the input position it copied.
    fold = (H, W, top, left, src_h, src_w) as for conv2d_dgrad_fold, over the
    padded Hp x Wp. Items (up to 4 images, group, block of 128 of its channels) in
    parallel; each writes whole planes of dx, in a fixed order. Returns
    False, having written nothing, where the weight holds inf or nan (the
    ring's tiles multiply zeros past grad_output's edges by it; the caller
    then takes the fused fold), True otherwise."""
    cdef cx_conv2d_desc d
    _fill_desc(&d, geometry)
    if d.stride_h != 1 or d.stride_w != 1 or d.R > 64 or d.S > 64 or d.groups < 1:
        raise ValueError(f"conv2d_dgrad_border: stride 1 and kernels of at most 64 taps a "
                         f"side only, got {geometry}")
    cdef Py_ssize_t Hp = d.P + (d.R - 1) * d.dil_h, Wp = d.Q + (d.S - 1) * d.dil_w
    H, W, top, left, src_h_o, src_w_o = _fold_args(fold, Hp, Wp, "conv2d_dgrad_border")
    if (H != d.H or W != d.W or top != d.pad_top or left != d.pad_left
            or w.shape[0] != d.K * (d.C // d.groups) * d.R * d.S
            or dy.shape[0] != d.N * d.K * d.P * d.Q or dx.shape[0] != d.N * d.C * d.H * d.W):
        raise ValueError(f"conv2d_dgrad_border: inconsistent sizes {geometry}, {fold[:4]}")
    cdef const Py_ssize_t[::1] src_h = src_h_o
    cdef const Py_ssize_t[::1] src_w = src_w_o
    cdef Py_ssize_t cg = d.C // d.groups, units = d.groups * ((cg + 127) // 128)
    if d.N * units == 0 or d.K == 0:
        return True
    # images per item: up to 4 (a tile's weights then serve 2 or 4 images), as
    # long as every thread gets 2 items; the sums do not depend on it
    cdef Py_ssize_t ib = 4
    while ib > 1 and (d.N + ib - 1) // ib * units < 2 * max(1, nthreads):
        ib //= 2
    cdef Py_ssize_t items = (d.N + ib - 1) // ib * units, item
    cdef Py_ssize_t ws_stride
    if floating is float:
        ws_stride = cx_f32_conv2d_dgrad_border_ws(&d, ib)
    else:
        ws_stride = cx_f64_conv2d_dgrad_border_ws(&d, ib)
    ws_stride = (ws_stride + _ALIGN_ELEMS - 1) // _ALIGN_ELEMS * _ALIGN_ELEMS
    cdef int nt = max(1, min(nthreads, items))
    ws = np.empty(ws_stride * nt, dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    # the weight as (G, C/G in blocks of 16, R, S, K/G, 16): a tap's weights
    # for a block's channels adjacent, and the reduction over K/G a stream
    # (16 output channels a unit, in parallel), checked for inf and nan
    wt = np.empty(w.shape[0], dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] wtv = wt
    cdef Py_ssize_t nkc = (d.K // d.groups + 15) // 16, u
    cdef floating *wtp = &wtv[0]
    cdef const floating *wp = &wtv[0]
    cdef const floating *w0 = &w[0]
    cdef const floating *dyp = &dy[0]
    cdef floating *dxp = &dx[0]
    cdef int bad = 0
    with nogil:
        for u in prange(d.groups * nkc, num_threads=nt, schedule="static"):
            if floating is float:
                bad |= cx_f32_conv2d_dgrad_border_weight(&d, w0, wtp, u)
            else:
                bad |= cx_f64_conv2d_dgrad_border_weight(&d, w0, wtp, u)
    if bad:
        return False    # (the ring's tiles would multiply it by zeros)
    with nogil:
        for item in prange(items, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_dgrad_border(&d, wp, dyp, dxp, &src_h[0], &src_w[0], ib, item,
                                           wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_dgrad_border(&d, wp, dyp, dxp, &src_h[0], &src_w[0], ib, item,
                                           wsp + threadid() * ws_stride)
    return True


# ---------------------------------------------------------------- channels-last (NHWC)
#
# The same parallel skeleton for the NHWC drivers (src/cx_nhwc_impl.h): plan,
# pack the weight once (a prange over its units), run the items in a prange;
# items write disjoint parts of the result (the weight gradient: disjoint
# partial sums, then a second prange adds them in chunk order over disjoint
# ranges of dw). Synchronisation: the implicit barrier at the end of each loop.

cdef object _nhwc_plan(cx_conv2d_desc *d, cx_conv2d_plan *pl, int op, object dtype,
                       int nthreads, Py_ssize_t *ws_stride, int *nt):
    """Plan one NHWC operation and allocate one workspace slot per thread."""
    if dtype == np.float32:
        cx_f32_conv2d_nhwc_plan(d, op, pl)
    else:
        cx_f64_conv2d_nhwc_plan(d, op, pl)
    pl.dk_stamp = 0
    return _slots(pl, dtype, nthreads, ws_stride, nt)


def nhwc_plan_info(tuple geometry, str op, object dtype):
    """The work split and per-thread workspace of one NHWC operation (for tests)."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    _fill_desc(&d, geometry)
    code = {"fwd": CX_OP_FWD, "wgrad": CX_OP_WGRAD, "dgrad": CX_OP_DGRAD}[op]
    if np.dtype(dtype) == np.float32:
        cx_f32_conv2d_nhwc_plan(&d, code, &pl)
    else:
        cx_f64_conv2d_nhwc_plan(&d, code, &pl)
    return dict(nitems=pl.nitems, tile=pl.tile, ntiles=pl.ntiles, cblock=pl.cblock,
                cblocks=pl.cblocks, nsplit=pl.nsplit, nper=pl.nper, depthwise=bool(pl.nhwc_dw),
                direct_tiles=bool(pl.dk_nhwc), narrow=bool(pl.nhwc_narrow),
                kmajor=bool(pl.nhwc_kmajor), streamed=bool(pl.dk_stream),
                chunk=pl.nhwc_chunk,
                packed_weight_bytes=pl.apack_units * pl.apack_elems * np.dtype(dtype).itemsize,
                workspace_bytes=pl.ws_elems * np.dtype(dtype).itemsize,
                edge_rows=(pl.dk_etop, pl.dk_ebot), edge_columns=bool(pl.dk_ecol),
                path="avx2" if pl.path == CX_PATH_AVX2 else cx_isa_name(cx_active_isa()).decode())


def nhwc_fwd(const floating[::1] x, const floating[::1] w, const floating[::1] bias,
             floating[::1] y, tuple geometry, bint has_bias, int nthreads,
             bint skip_padding=False):
    """y (N, P, Q, K) = conv2d(x (N, H, W, C), w (K, C/groups, R, S)) + bias, flattened.
    skip_padding: the channel-vector tiles may leave out the zero padding's
    products (edge rows and columns, as conv2d_fwd's); only for a finite
    weight (no NaN of 0 * inf there to mark: the caller checks)."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride, item
    cdef int nt
    _fill_desc(&d, geometry)
    dtype = np.float32 if floating is float else np.float64
    ws = _nhwc_plan(&d, &pl, CX_OP_FWD, dtype, nthreads, &ws_stride, &nt)
    pl.dk_stamp = _next_stamp()   # (the direct tiles' items keep their band's zeros)
    _skip_padding(&pl, skip_padding and pl.dk_nhwc)
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating *xp = _in(x)
    cdef const floating *bp = _in(bias) if has_bias else NULL
    cdef floating *yp = _out(y)
    packed = _prepack(&d, &pl, _in(w), dtype, nt, True)   # kept alive until the loop ends
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_nhwc_fwd(&d, &pl, xp, bp, yp, item, wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_nhwc_fwd(&d, &pl, xp, bp, yp, item, wsp + threadid() * ws_stride)


def nhwc_dgrad_fold(const floating[::1] dy, const floating[::1] wt, floating[::1] dx,
                    tuple geometry, tuple fold, int nthreads):
    """The channels-last input gradient under a padding mode, made and folded in
    one pass (cx_*_conv2d_nhwc_fwd_fold): geometry is the stride-1 forward form
    of the padded problem (convx._layout._input_as_forward: input dy (N, P, Q,
    K), output the padded input's gradient (N, Hp, Wp, C)) and wt its weight;
    fold = (H, W, top, left, src_h, src_w) as in conv2d_dgrad_fold; dx (N, H,
    W, C) flattened. Returns False, having written nothing, unless that forward
    runs the depthwise loops with multiplier 1."""
    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t H, W, top, left, item, ws_stride, ystride
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef int nt
    _fill_desc(&d, geometry)
    ws = _nhwc_plan(&d, &pl, CX_OP_FWD, dtype, nthreads, &ws_stride, &nt)
    if not pl.nhwc_dw or d.K != d.C:
        return False
    H, W, top, left, src_h_o, src_w_o = _fold_args(fold, d.P, d.Q, "nhwc_dgrad_fold")
    if dx.shape[0] != d.N * H * W * d.K or dy.shape[0] != d.N * d.H * d.W * d.C:
        raise ValueError(f"nhwc_dgrad_fold: inconsistent sizes {geometry}, {fold[:4]}")
    cdef const Py_ssize_t[::1] src_h = src_h_o
    cdef const Py_ssize_t[::1] src_w = src_w_o
    ystride = (d.Q * d.K + _ALIGN_ELEMS - 1) // _ALIGN_ELEMS * _ALIGN_ELEMS
    yb = np.empty(ystride * nt, dtype=dtype)
    cdef floating[::1] ybv = yb
    cdef floating *ybp = &ybv[0]
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef Py_ssize_t nring = d.P - H
    ring = np.empty(max(d.N * nring * d.Q * d.K, 1), dtype=dtype)
    cdef floating[::1] ringv = ring
    cdef floating *ringp = &ringv[0]
    cdef const floating *dyp = &dy[0]
    cdef floating *dxp = &dx[0]
    cdef int stream = dx.shape[0] * np.dtype(dtype).itemsize > 8 * 2**20
    packed = _prepack(&d, &pl, _in(wt), dtype, nt, True)   # kept alive until the loops end
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_nhwc_fwd_fold(&d, &pl, dyp, dxp, ringp, H, W, top, left,
                                            &src_w[0], stream, item,
                                            wsp + threadid() * ws_stride,
                                            ybp + threadid() * ystride)
            else:
                cx_f64_conv2d_nhwc_fwd_fold(&d, &pl, dyp, dxp, ringp, H, W, top, left,
                                            &src_w[0], stream, item,
                                            wsp + threadid() * ws_stride,
                                            ybp + threadid() * ystride)
        if nring > 0:
            for item in prange(d.N, num_threads=nt, schedule="static"):
                if floating is float:
                    cx_f32_conv2d_nhwc_fold_ring(dxp, ringp, H, W, d.K, d.P, d.Q, top,
                                                 &src_h[0], &src_w[0], item)
                else:
                    cx_f64_conv2d_nhwc_fold_ring(dxp, ringp, H, W, d.K, d.P, d.Q, top,
                                                 &src_h[0], &src_w[0], item)
    return True


def nhwc_wgrad(const floating[::1] x, const floating[::1] dy, floating[::1] dw,
               tuple geometry, int nthreads):
    """dw (K, C/groups, R, S) = conv2d_weight(x (N, H, W, C), dy (N, P, Q, K)), flattened.
    Returns False where the channel-vector tiles left out a product of zero
    padding with a non-finite dy value (the caller marks those NaNs:
    convx._api._padding_nan_weight), else True."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride, item
    cdef int nt
    cdef int nonfinite = 0
    _fill_desc(&d, geometry)
    dtype = np.float32 if floating is float else np.float64
    ws = _nhwc_plan(&d, &pl, CX_OP_WGRAD, dtype, nthreads, &ws_stride, &nt)
    # zero padding's products left out, as conv2d_wgrad's
    _skip_padding(&pl, pl.dk_nhwc and pl.dk_mode == 2, False, &nonfinite)
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating *xp = _in(x)
    cdef const floating *dyp = _in(dy)
    cdef floating *dwp = _out(dw)
    # the drivers' partial sums (one per batch chunk), in their own element order
    partial = np.empty(pl.nsplit * pl.wsize, dtype=dtype)
    cdef floating[::1] partv = partial
    cdef floating *pp = &partv[0]
    cdef Py_ssize_t chunk = 4096, nchunks, begin
    nchunks = (pl.wsize + chunk - 1) // chunk
    # (the k-major GEMM's dY^T, where the plan packs it once: kept alive until the loop ends)
    packed = None
    if pl.nhwc_kmajor and not pl.dk_nhwc and not pl.nhwc_dw:
        packed = _prepack(&d, &pl, dyp, dtype, nt, True)
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_nhwc_wgrad(&d, &pl, xp, dyp, pp, item, wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_nhwc_wgrad(&d, &pl, xp, dyp, pp, item, wsp + threadid() * ws_stride)
        for item in prange(nchunks, num_threads=nt, schedule="static"):
            begin = item * chunk
            if floating is float:
                cx_f32_conv2d_nhwc_wgrad_reduce(&d, &pl, pp, dwp, begin, min(begin + chunk, pl.wsize))
            else:
                cx_f64_conv2d_nhwc_wgrad_reduce(&d, &pl, pp, dwp, begin, min(begin + chunk, pl.wsize))
    return not nonfinite


def nhwc_dgrad(const floating[::1] w, const floating[::1] dy, floating[::1] dx,
               tuple geometry, int nthreads):
    """dx (N, H, W, C) = conv2d_input(w, dy (N, P, Q, K)), flattened (GEMM + col2im, or
    the depthwise gather; the stride-1 forward form is chosen in convx._layout)."""
    cdef cx_conv2d_desc d
    cdef cx_conv2d_plan pl
    cdef Py_ssize_t ws_stride, item
    cdef int nt
    _fill_desc(&d, geometry)
    dtype = np.float32 if floating is float else np.float64
    ws = _nhwc_plan(&d, &pl, CX_OP_DGRAD, dtype, nthreads, &ws_stride, &nt)
    cdef floating[::1] wsv = ws
    cdef floating *wsp = &wsv[0]
    cdef const floating *dyp = _in(dy)
    cdef floating *dxp = _out(dx)
    packed = _prepack(&d, &pl, _in(w), dtype, nt, True)   # kept alive until the loop ends
    with nogil:
        for item in prange(pl.nitems, num_threads=nt, schedule="dynamic"):
            if floating is float:
                cx_f32_conv2d_nhwc_dgrad(&d, &pl, dyp, dxp, item, wsp + threadid() * ws_stride)
            else:
                cx_f64_conv2d_nhwc_dgrad(&d, &pl, dyp, dxp, item, wsp + threadid() * ws_stride)


def fold_pad2d(const floating[::1] dxp, floating[::1] dx, tuple dims,
               const Py_ssize_t[::1] src_h, const Py_ssize_t[::1] src_w,
               bint channels_last, int nthreads):
    """dx = the padded input's gradient dxp folded back onto the input: every
    padded position (i, j) was a copy of input position (src_h[i], src_w[j]),
    so its gradient is added there (the adjoint of a reflect / replicate /
    circular pad). dims = (N, C, H, W, top, left, Hp, Wp); arrays flattened,
    (N, C, Hp, Wp) -> (N, C, H, W) or, channels_last, (N, Hp, Wp, C) ->
    (N, H, W, C). One pass over dxp (the C driver cx_*_pad_fold2d per plane, or
    per image when channels_last, in parallel), in place of numpy slice
    additions over the whole array."""
    cdef Py_ssize_t N, C, H, W, t, l, Hp, Wp
    N, C, H, W, t, l, Hp, Wp = dims
    if (src_h.shape[0] != Hp or src_w.shape[0] != Wp or dxp.shape[0] != N * C * Hp * Wp
            or dx.shape[0] != N * C * H * W or t < 0 or l < 0 or Hp < H + t or Wp < W + l):
        raise ValueError(f"fold_pad2d: inconsistent sizes {dims}")
    cdef Py_ssize_t i, j
    for i in range(Hp):
        if not 0 <= src_h[i] < H:
            raise ValueError(f"fold_pad2d: src_h[{i}] = {src_h[i]} outside [0, {H})")
    for j in range(Wp):
        if not 0 <= src_w[j] < W:
            raise ValueError(f"fold_pad2d: src_w[{j}] = {src_w[j]} outside [0, {W})")
    cdef int nt = max(1, nthreads)
    cdef Py_ssize_t items = N if channels_last else N * C
    if N * C * H * W == 0:
        return
    with nogil:
        for i in prange(items, num_threads=nt, schedule="static"):
            if floating is float:
                cx_f32_pad_fold2d(&dxp[0], &dx[0], C, H, W, t, l, Hp, Wp, &src_h[0], &src_w[0],
                                  channels_last, i)
            else:
                cx_f64_pad_fold2d(&dxp[0], &dx[0], C, H, W, t, l, Hp, Wp, &src_h[0], &src_w[0],
                                  channels_last, i)


def gemm(const floating[:, :] a, const floating[:, :] b, floating[:, :] c, bint accumulate):
    """c (+)= a @ b with convx's own blocked GEMM (any strides; for tests)."""
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef Py_ssize_t isz = sizeof(floating)
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError(f"gemm: shapes ({m}, {k}) @ ({b.shape[0]}, {n}) -> ({c.shape[0]}, {c.shape[1]}) do not match")
    dtype = np.float32 if floating is float else np.float64
    if floating is float:
        ws = np.empty(cx_f32_gemm_workspace_elems(), dtype=dtype)
    else:
        ws = np.empty(cx_f64_gemm_workspace_elems(), dtype=dtype)
    cdef floating[::1] wsv = ws
    if m == 0 or n == 0:
        return
    cdef const floating *ap = &a[0, 0] if k > 0 else NULL
    cdef const floating *bp = &b[0, 0] if k > 0 else NULL
    with nogil:
        if floating is float:
            cx_f32_gemm(m, n, k, ap, a.strides[0] // isz, a.strides[1] // isz,
                        bp, b.strides[0] // isz, b.strides[1] // isz, accumulate,
                        &c[0, 0], c.strides[0] // isz, c.strides[1] // isz, &wsv[0])
        else:
            cx_f64_gemm(m, n, k, ap, a.strides[0] // isz, a.strides[1] // isz,
                        bp, b.strides[0] // isz, b.strides[1] // isz, accumulate,
                        &c[0, 0], c.strides[0] // isz, c.strides[1] // isz, &wsv[0])


def igemm(const floating[:, ::1] a, const floating[::1] b, const Py_ssize_t[::1] boff,
          floating[:, ::1] c):
    """c := a @ B with B[p, j] = b[boff[p] + j], through the active path's indirect
    micro-kernel (for tests). b must extend NR elements past the last B element."""
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = c.shape[1], p
    if boff.shape[0] != k or c.shape[0] != m:
        raise ValueError("igemm: shapes do not match")
    nr = kernel_info()["float32" if floating is float else "float64"]["nr"]
    for p in range(k):
        if boff[p] < 0 or boff[p] + (n + nr - 1) // nr * nr > b.shape[0]:
            raise ValueError("igemm: b too short for the row offsets")
    dtype = np.float32 if floating is float else np.float64
    if floating is float:
        ws = np.empty(cx_f32_gemm_workspace_elems(), dtype=dtype)
    else:
        ws = np.empty(cx_f64_gemm_workspace_elems(), dtype=dtype)
    cdef floating[::1] wsv = ws
    if m == 0 or n == 0:
        return
    if k == 0:
        c[:, :] = 0
        return
    with nogil:
        if floating is float:
            cx_f32_igemm(m, n, k, &a[0, 0], a.shape[1], 1, &b[0], &boff[0], &c[0, 0], c.shape[1],
                         &wsv[0])
        else:
            cx_f64_igemm(m, n, k, &a[0, 0], a.shape[1], 1, &b[0], &boff[0], &c[0, 0], c.shape[1],
                         &wsv[0])


def dot(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, :] c):
    """c += a @ b.T with the active path's dot-product tiles (rows contiguous; for tests)."""
    cdef Py_ssize_t m = a.shape[0], n = b.shape[0], k = a.shape[1], i, j, mr, nr
    cdef Py_ssize_t isz = sizeof(floating)
    if b.shape[1] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError(f"dot: shapes ({m}, {k}) @ ({b.shape[0]}, {b.shape[1]}).T -> "
                         f"({c.shape[0]}, {c.shape[1]}) do not match")
    if c.strides[1] != isz:
        raise ValueError("dot: c must have unit column stride")
    if m == 0 or n == 0 or k == 0:
        return
    if floating is float:
        mr = cx_f32_gemm_active().dot_mr
        nr = cx_f32_gemm_active().dot_nr
    else:
        mr = cx_f64_gemm_active().dot_mr
        nr = cx_f64_gemm_active().dot_nr
    with nogil:
        i = 0
        while i < m:
            j = 0
            while j < n:
                if floating is float:
                    cx_f32_gemm_active().dot(1, k, &a[i, 0], 0, a.strides[0] // isz, &b[j, 0],
                                             0, b.strides[0] // isz, &c[i, j], c.strides[0] // isz,
                                             min(mr, m - i), min(nr, n - j))
                else:
                    cx_f64_gemm_active().dot(1, k, &a[i, 0], 0, a.strides[0] // isz, &b[j, 0],
                                             0, b.strides[0] // isz, &c[i, j], c.strides[0] // isz,
                                             min(mr, m - i), min(nr, n - j))
                j += nr
            i += mr


def kernel_info():
    """Tiles and cache blocks of the active path's kernels, per dtype (``narrow``:
    the path's narrow tile, cx_gemm.h; the main one's name where it has none)."""
    cdef const cx_f32_gemm_kernel *k32 = cx_f32_gemm_active()
    cdef const cx_f64_gemm_kernel *k64 = cx_f64_gemm_active()
    cdef const cx_f32_gemm_kernel *n32 = cx_f32_gemm_narrow()
    cdef const cx_f64_gemm_kernel *n64 = cx_f64_gemm_narrow()
    return {
        "float32": dict(name=k32.name.decode(), mr=k32.mr, nr=k32.nr, kc=k32.kc, mc=k32.mc,
                        nc=k32.nc, dot_name=k32.dot_name.decode(), dot_mr=k32.dot_mr,
                        dot_nr=k32.dot_nr,
                        narrow=dict(name=n32.name.decode(), mr=n32.mr, nr=n32.nr)),
        "float64": dict(name=k64.name.decode(), mr=k64.mr, nr=k64.nr, kc=k64.kc, mc=k64.mc,
                        nc=k64.nc, dot_name=k64.dot_name.decode(), dot_mr=k64.dot_mr,
                        dot_nr=k64.dot_nr,
                        narrow=dict(name=n64.name.decode(), mr=n64.mr, nr=n64.nr)),
    }


def edge_tiles(object dtype):
    """Rows of the active path's edge tiles (cx_gemm.h), shortest first; [] if none."""
    cdef const cx_f32_gemm_kernel *k32 = cx_f32_gemm_active()
    cdef const cx_f64_gemm_kernel *k64 = cx_f64_gemm_active()
    f32 = np.dtype(dtype) == np.float32
    return [int(k32.edge_mr[e] if f32 else k64.edge_mr[e]) for e in range(2)
            if (k32.edge_mr[e] if f32 else k64.edge_mr[e]) > 0]


def ukernel_tile(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, :] c,
                 bint accumulate, bint narrow=False, int edge=-1):
    """c (+)= a @ b by one call of the active path's micro-kernel (or its narrow
    tile, or with edge >= 0 its edge tile number edge, which reads A panels
    packed for the main tile), for tests: m <= MR (the edge tile's rows),
    n <= NR, any k >= 1; A and B are packed here into zero-padded panels, c may
    have any positive strides (the kernel's rsc, csc)."""
    cdef const cx_f32_gemm_kernel *k32 = cx_f32_gemm_narrow() if narrow else cx_f32_gemm_active()
    cdef const cx_f64_gemm_kernel *k64 = cx_f64_gemm_narrow() if narrow else cx_f64_gemm_active()
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef Py_ssize_t mr = k32.mr if floating is float else k64.mr
    cdef Py_ssize_t nr = k32.nr if floating is float else k64.nr
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t rows = mr
    cdef cx_f32_ukernel_fn uk32
    cdef cx_f64_ukernel_fn uk64
    if edge >= 0:
        rows = 0
        if not narrow and edge < 2:
            if floating is float:
                rows = k32.edge_mr[edge]
            else:
                rows = k64.edge_mr[edge]
        if rows <= 0:
            raise ValueError(f"ukernel_tile: the active path has no edge tile {edge}")
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("ukernel_tile: shapes do not match")
    if m < 1 or m > rows or n < 1 or n > nr or k < 1:
        raise ValueError(f"ukernel_tile: need 1 <= m <= {rows}, 1 <= n <= {nr}, k >= 1")
    if c.strides[0] <= 0 or c.strides[1] <= 0 or c.strides[0] % isz or c.strides[1] % isz:
        raise ValueError("ukernel_tile: c needs positive element strides")
    dtype = np.float32 if floating is float else np.float64
    ap = np.zeros((k, mr), dtype)
    ap[:, :m] = np.asarray(a).T
    bp = np.zeros((k, nr), dtype)
    bp[:, :n] = np.asarray(b)
    cdef floating[:, ::1] apv = ap
    cdef floating[:, ::1] bpv = bp
    cdef Py_ssize_t rsc = c.strides[0] // isz, csc = c.strides[1] // isz
    with nogil:
        if floating is float:
            uk32 = k32.ukernel if edge < 0 else k32.edge_ukernel[edge]
            uk32(k, &apv[0, 0], &bpv[0, 0], nr, &c[0, 0], rsc, csc, accumulate, m, n)
        else:
            uk64 = k64.ukernel if edge < 0 else k64.edge_ukernel[edge]
            uk64(k, &apv[0, 0], &bpv[0, 0], nr, &c[0, 0], rsc, csc, accumulate, m, n)


def build_info():
    """Facts fixed when the extension was compiled, and the CPU it runs on."""
    return {
        "compiler": cx_compiler().decode(),
        "openmp_version": cx_openmp_version(),
        "simd_baseline": cx_simd_baseline().decode(),
        "cpu_features": cx_cpu_features().decode(),
        "gemm_kernel_float32": cx_f32_gemm_kernel_name().decode(),
        "gemm_kernel_float64": cx_f64_gemm_kernel_name().decode(),
    }


_ISA_CODES = {"generic": 0, "avx2": 1, "avx512": 2}


def isa_names():
    """Instruction-set paths, lowest first."""
    return list(_ISA_CODES)


def cpu_best_isa():
    """The best path this CPU and OS support."""
    return cx_isa_name(cx_cpu_best_isa()).decode()


def select_isa(str name):
    """Use min(name, best supported) from now on; returns the path chosen.

    Called once at import (convx._config); not safe while kernels run.
    """
    if name not in _ISA_CODES:
        raise ValueError(f"unknown instruction-set path {name!r}, expected one of {list(_ISA_CODES)}")
    return cx_isa_name(cx_select_isa(_ISA_CODES[name])).decode()


def _set_dev_flags(long long flags):
    """Developer switches (bits CX_DEV_* of cx_conv.h, each turning a newer path
    off: 1 the direct tiles walked by input row, 2 their aligned-row form, 4 the
    channels-last 8-channel gather of 32 pixels a transpose); returns the
    previous flags. For A/B timing in one process (bench/ab.py) and tests; not
    safe while kernels run."""
    return cx_set_dev_flags(flags)


def active_isa():
    return cx_isa_name(cx_active_isa()).decode()


def cpu_avx512_halves():
    """Does this CPU run 512-bit FMAs as two 256-bit halves (AMD Zen 4)? Its
    AVX-512 float32 forwards then take the AVX2 path's 8-lane channel-vector
    tiles where those fill more lanes (plan_info's "path")."""
    return bool(cx_cpu_avx512_halves())


def fma_probe(str name, long n):
    """Run n iterations of independent FMA chains on path `name` (one thread).

    Returns (flops, checksum); time it to get the path's FMA peak.
    """
    cdef int isa = _ISA_CODES[name]
    cdef double r
    with nogil:
        r = cx_fma_probe(isa, n)
    return cx_fma_probe_flops(isa, n), r


def fma_probe_parallel(str name, long n, int nthreads):
    """fma_probe on nthreads OpenMP threads at once; returns total flops."""
    cdef int isa = _ISA_CODES[name]
    cdef Py_ssize_t i
    cdef double acc = 0
    with nogil:
        for i in prange(nthreads, num_threads=nthreads, schedule="static"):
            acc += cx_fma_probe(isa, n)
    return cx_fma_probe_flops(isa, n) * nthreads, acc


def max_threads():
    """omp_get_max_threads(): the default thread count (honours OMP_NUM_THREADS)."""
    return cx_omp_max_threads()
