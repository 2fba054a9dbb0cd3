"""conv1d / conv3d and their gradients, transposed convolutions, padding modes.

Specification: tests/reference_nd.py (naive float64, from the definitions).
Integer-valued data makes every float sum exact, so all algorithms must agree
with the reference bit for bit; random floats check the tolerances; the
adjoint identity and finite differences check the gradients as gradients.
"""

import numpy as np
import pytest

import convx
from convx import _nd, _padmode

from reference_nd import (ref_conv, ref_conv_input, ref_conv_transpose, ref_conv_weight,
                          resolve_padding)

FWD = {1: convx.conv1d, 2: convx.conv2d, 3: convx.conv3d}
WGT = {1: convx.conv1d_weight, 2: convx.conv2d_weight, 3: convx.conv3d_weight}
INP = {1: convx.conv1d_input, 2: convx.conv2d_input, 3: convx.conv3d_input}
TRN = {1: convx.conv_transpose1d, 2: convx.conv_transpose2d, 3: convx.conv_transpose3d}

# (id, x shape, w shape, keyword arguments)
CASES = [
    ("1d_plain", (2, 3, 17), (4, 3, 3), {}),
    ("1d_stride_pad_dil", (2, 4, 23), (6, 2, 4), dict(stride=3, padding=2, dilation=2,
                                                      groups=2)),
    ("1d_same_even", (1, 2, 10), (3, 2, 4), dict(padding="same")),
    ("1d_same_stride", (2, 2, 11), (3, 2, 3), dict(padding="same", stride=2)),
    ("1d_asym", (1, 2, 9), (2, 2, 3), dict(padding=((2, 0),))),
    ("1d_depthwise_mult", (2, 4, 30), (8, 1, 5), dict(groups=4, padding=2)),
    ("1d_long_kernel", (1, 1, 300), (2, 1, 64), dict(padding="same")),
    ("1d_stride_gt_kernel", (1, 2, 20), (3, 2, 2), dict(stride=5)),
    ("3d_plain", (2, 3, 5, 6, 7), (4, 3, 3, 3, 3), {}),
    ("3d_pad1", (1, 4, 6, 5, 5), (5, 4, 3, 3, 3), dict(padding=1)),
    ("3d_strides", (2, 4, 7, 6, 9), (6, 2, 3, 2, 3), dict(stride=(2, 1, 3), padding=(1, 0, 2),
                                                          dilation=(2, 1, 1), groups=2)),
    ("3d_depth_pad_gt_kernel", (1, 2, 3, 4, 4), (2, 2, 2, 1, 1), dict(padding=(3, 0, 0))),
    ("3d_same", (1, 2, 4, 5, 6), (3, 2, 2, 3, 4), dict(padding="same")),
    ("3d_depthwise", (2, 3, 6, 5, 5), (3, 1, 3, 3, 3), dict(groups=3, padding=1)),
    ("3d_T1", (2, 3, 4, 5, 5), (4, 3, 1, 3, 3), dict(stride=(2, 1, 1))),
    ("3d_D1", (1, 2, 1, 6, 6), (3, 2, 1, 2, 2), {}),
    ("3d_asym_dstride", (1, 2, 9, 4, 4), (2, 2, 3, 2, 2), dict(padding=((1, 2), 0, (0, 1)),
                                                               stride=(3, 1, 1))),
]
IDS = [c[0] for c in CASES]


def _data(shape, rng, integer):
    if integer:
        return rng.integers(-3, 4, size=shape).astype(np.float64)
    return rng.standard_normal(shape)


def _nd_of(xs):
    return len(xs) - 2


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("algorithm", ["direct", "im2col", "auto"])
def test_exact_on_integers(case, algorithm):
    """All three operations equal the reference bit for bit on integer data."""
    _, xs, ws, kw = case
    nd = _nd_of(xs)
    rng = np.random.default_rng(len(xs) * 100 + xs[-1])
    x, w = _data(xs, rng, True), _data(ws, rng, True)
    b = _data(ws[:1], rng, True)
    y = FWD[nd](x, w, b, algorithm=algorithm, **kw)
    np.testing.assert_array_equal(y, ref_conv(x, w, b, **kw))
    gy = _data(y.shape, rng, True)
    np.testing.assert_array_equal(WGT[nd](x, ws, gy, algorithm=algorithm, **kw),
                                  ref_conv_weight(x, ws, gy, **kw))
    np.testing.assert_array_equal(INP[nd](xs, w, gy, algorithm=algorithm, **kw),
                                  ref_conv_input(xs, w, gy, **kw))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_floats(case, dtype):
    _, xs, ws, kw = case
    nd = _nd_of(xs)
    rng = np.random.default_rng(7)
    x, w = _data(xs, rng, False).astype(dtype), _data(ws, rng, False).astype(dtype)
    y = FWD[nd](x, w, **kw)
    assert y.dtype == dtype and y.flags.c_contiguous
    tol = 1e-12 if dtype == np.float64 else 2e-5 * np.sqrt(np.prod(ws[1:]))
    np.testing.assert_allclose(y, ref_conv(x, w, **kw), rtol=0, atol=tol * 4)
    gy = _data(y.shape, rng, False).astype(dtype)
    red = np.prod(y.shape) / ws[0]
    tolw = 1e-12 * red if dtype == np.float64 else 2e-5 * np.sqrt(red) * 4
    np.testing.assert_allclose(WGT[nd](x, ws, gy, **kw), ref_conv_weight(x, ws, gy, **kw),
                               rtol=0, atol=tolw)
    np.testing.assert_allclose(INP[nd](xs, w, gy, **kw), ref_conv_input(xs, w, gy, **kw),
                               rtol=0, atol=tol * 8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_adjoint_identity(case):
    """<conv(x, w), g> = <w, conv_weight(x, g)> = <x, conv_input(w, g)>."""
    _, xs, ws, kw = case
    nd = _nd_of(xs)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = FWD[nd](x, w, **kw)
    g = rng.standard_normal(y.shape)
    a = np.vdot(y, g)
    assert np.isclose(a, np.vdot(w, WGT[nd](x, ws, g, **kw)), rtol=1e-11, atol=1e-11)
    assert np.isclose(a, np.vdot(x, INP[nd](xs, w, g, **kw)), rtol=1e-11, atol=1e-11)


def test_unbatched_forms():
    rng = np.random.default_rng(0)
    x1, w1 = rng.standard_normal((3, 12)), rng.standard_normal((2, 3, 3))
    y1 = convx.conv1d(x1, w1, padding=1)
    np.testing.assert_allclose(y1, convx.conv1d(x1[None], w1, padding=1)[0], rtol=0, atol=0)
    g1 = rng.standard_normal(y1.shape)
    assert convx.conv1d_weight(x1, w1.shape, g1, padding=1).shape == w1.shape
    assert convx.conv1d_input(x1.shape, w1, g1, padding=1).shape == x1.shape
    x3, w3 = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 2, 2, 2))
    y3 = convx.conv3d(x3, w3)
    np.testing.assert_array_equal(y3, convx.conv3d(x3[None], w3)[0])
    g3 = rng.standard_normal(y3.shape)
    np.testing.assert_array_equal(convx.conv3d_input(x3.shape, w3, g3),
                                  convx.conv3d_input((1,) + x3.shape, w3, g3[None])[0])
    np.testing.assert_array_equal(convx.conv3d_weight(x3, w3.shape, g3),
                                  convx.conv3d_weight(x3[None], w3.shape, g3[None]))


def test_conv1d_is_a_view_of_conv2d():
    """conv1d gives exactly conv2d's bits on one row (it is that call)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 8, 50)).astype(np.float32), \
        rng.standard_normal((16, 8, 5)).astype(np.float32)
    for algorithm in ("direct", "im2col"):
        np.testing.assert_array_equal(
            convx.conv1d(x, w, stride=2, padding=2, algorithm=algorithm),
            convx.conv2d(x[:, :, None], w[:, :, None], stride=(1, 2), padding=(0, 2),
                         algorithm=algorithm)[:, :, 0])


def test_conv3d_depth_runs(monkeypatch):
    """Small fold budgets (one output depth per 2-D call) give the same result."""
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, (2, 3, 7, 5, 6)).astype(np.float32)
    w = rng.integers(-3, 4, (4, 3, 3, 2, 2)).astype(np.float32)
    kw = dict(stride=(2, 1, 1), padding=(2, 1, 0))
    y = convx.conv3d(x, w, **kw)
    g = rng.integers(-3, 4, y.shape).astype(np.float32)
    dw, dx = convx.conv3d_weight(x, w.shape, g, **kw), convx.conv3d_input(x.shape, w, g, **kw)
    monkeypatch.setattr(_nd, "_FOLD_BYTES", 1)
    assert len(_nd._depth_runs(_nd._Geo(3, x.shape, w.shape, kw["stride"], kw["padding"], 1,
                                        1), 4)) == y.shape[2]
    np.testing.assert_array_equal(convx.conv3d(x, w, **kw), y)
    np.testing.assert_array_equal(convx.conv3d_weight(x, w.shape, g, **kw), dw)
    np.testing.assert_array_equal(convx.conv3d_input(x.shape, w, g, **kw), dx)


# (x shape, w shape, keyword arguments): the native 3-D forward's edge cases --
# depth stride and dilation (slots reused, skipped, refilled), depth padding
# beyond the kernel (the zero slot), groups and depthwise blocks, one tap and
# one depth, rows of more than 4 vectors (the band's general fill), bands of
# several row tiles, channel-vector and pixel tiles, many runs of output depths,
# outputs streamed past the caches (the last)
NATIVE_3D = [
    ((2, 32, 9, 12, 12), (32, 32, 3, 3, 3), dict(padding=1)),
    ((2, 4, 7, 9, 11), (16, 4, 3, 3, 3), dict(padding=(2, 1, 0), stride=(2, 1, 1))),
    ((2, 4, 11, 9, 11), (16, 4, 3, 3, 3), dict(padding=(2, 1, 0), dilation=(3, 1, 2))),
    ((1, 2, 4, 6, 6), (16, 2, 2, 3, 3), dict(padding=((4, 3), 1, 1))),
    ((1, 6, 5, 8, 8), (6, 2, 3, 3, 3), dict(padding=1, groups=3)),
    ((2, 8, 6, 10, 10), (8, 1, 3, 3, 3), dict(padding=1, groups=8)),
    ((2, 3, 6, 20, 20), (16, 3, 1, 5, 5), dict(padding=2)),
    ((2, 2, 1, 9, 9), (4, 2, 1, 3, 3), dict(padding=(0, 1, 1))),
    ((1, 3, 5, 70, 90), (16, 3, 3, 3, 3), dict(padding=1)),
    ((1, 2, 4, 9, 150), (4, 2, 2, 3, 5), dict(padding=(1, 1, 2), stride=(1, 2, 1))),
    ((3, 16, 5, 14, 14), (32, 16, 3, 5, 5), dict(padding=((1, 0), 2, (2, 1)))),
    ((1, 4, 40, 6, 6), (8, 4, 3, 3, 3), dict(padding=1)),
    ((1, 48, 10, 72, 64), (48, 1, 3, 3, 3), dict(padding=1, groups=48)),
    ((1, 4, 5, 8, 8), (32, 2, 3, 3, 3), dict(padding=1, groups=2)),
]
# the cases whose float32 weight gradient runs natively too (the AVX-512
# channel-vector kernels: 16k output channels a group, kernel rows of 3, 5 or 7
# unit-step taps; AVX2's 8-lane ones: 8k output channels, those and case 11)
NATIVE_3D_WGRAD = {0, 1, 3, 6, 8, 10, 13}
NATIVE_3D_WGRAD8 = NATIVE_3D_WGRAD | {11}


def _native_geo(xs, ws, kw):
    return _nd._Geo(3, xs, ws, kw.get("stride", 1), kw.get("padding", 0),
                    kw.get("dilation", 1), kw.get("groups", 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", range(len(NATIVE_3D)))
def test_conv3d_native(index, dtype, monkeypatch):
    """The native 3-D forward (input depths' bands filled once into slots) runs
    on these cases and equals the reference and the depth-folded 2-D form bit
    for bit on integers; its stride-1 input gradient (a forward of the flipped
    weight) and its weight gradient too."""
    xs, ws, kw = NATIVE_3D[index]
    # workspaces start as NaN: a tile reading band it did not fill shows
    was = _nd._conv._set_poison_workspace(True)
    try:
        _check_native_3d(index, xs, ws, kw, dtype, monkeypatch)
    finally:
        _nd._conv._set_poison_workspace(was)


def _check_native_3d(index, xs, ws, kw, dtype, monkeypatch):
    rng = np.random.default_rng(xs[-1] * 7 + ws[0])
    x = rng.integers(-3, 4, xs).astype(dtype)
    w = rng.integers(-3, 4, ws).astype(dtype)
    b = rng.integers(-3, 4, ws[:1]).astype(dtype)
    geo = _native_geo(xs, ws, kw)
    assert _nd._native_3d(geo, "direct", np.dtype(dtype), 1) is not None
    y = convx.conv3d(x, w, b, algorithm="direct", **kw)
    np.testing.assert_array_equal(y, ref_conv(x, w, b, **kw))
    np.testing.assert_array_equal(convx.conv3d(x, w, b, algorithm="direct", threads=2, **kw), y)
    gy = rng.integers(-3, 4, y.shape).astype(dtype)
    dx_ref = ref_conv_input(xs, w, gy, **kw)
    native_dgrad = _nd._input_as_forward(geo, w, gy, np.dtype(dtype), "direct", 1)
    if all(s == 1 for s in geo.stride) and min(lo for lo, _ in geo.padding) >= 0 and \
            all(dl * (k - 1) >= max(p) for p, k, dl in zip(geo.padding, geo.kernel,
                                                          geo.dilation)):
        assert native_dgrad is not None
    if native_dgrad is not None:
        np.testing.assert_array_equal(native_dgrad, dx_ref)
    np.testing.assert_array_equal(convx.conv3d_input(xs, w, gy, algorithm="direct", **kw),
                                  dx_ref)
    native_wgrad = _nd._native_3d(geo, "direct", np.dtype(dtype), 1, "wgrad")
    isa = _nd._conv.active_isa()
    assert (native_wgrad is not None) == (dtype == np.float32 and (
        (index in NATIVE_3D_WGRAD and isa == "avx512") or
        (index in NATIVE_3D_WGRAD8 and isa == "avx2")))
    dw = convx.conv3d_weight(x, ws, gy, algorithm="direct", **kw)
    np.testing.assert_array_equal(dw, ref_conv_weight(x, ws, gy, **kw))
    np.testing.assert_array_equal(
        convx.conv3d_weight(x, ws, gy, algorithm="direct", threads=2, **kw), dw)
    monkeypatch.setattr(_nd, "_NATIVE_3D", False)
    assert _nd._native_3d(geo, "direct", np.dtype(dtype), 1) is None
    np.testing.assert_array_equal(convx.conv3d(x, w, b, algorithm="direct", **kw), y)
    np.testing.assert_array_equal(convx.conv3d_weight(x, ws, gy, algorithm="direct", **kw), dw)


# more cases for the native row-band GEMM: depth stride, dilation and padding
# (wider than the kernel on one side), groups, a batch, 1 x 1 rows of a 3-tap depth
NATIVE_3D_GEMM = NATIVE_3D + [
    ((2, 3, 7, 10, 11), (5, 3, 2, 3, 3), dict(padding=(2, 1, 0), stride=(2, 1, 1),
                                              dilation=(2, 1, 1))),
    ((3, 6, 5, 8, 9), (6, 2, 3, 2, 3), dict(padding=((0, 2), (1, 0), 1), groups=3,
                                            dilation=(1, 2, 1))),
    ((2, 4, 6, 7, 7), (8, 4, 3, 1, 1), dict(padding=(1, 0, 0))),
    ((1, 2, 3, 5, 40), (130, 2, 3, 3, 3), dict(padding=1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", range(len(NATIVE_3D_GEMM)))
def test_conv3d_native_gemm(index, dtype, monkeypatch):
    """The native 3-D forward on the stride-1 row-band GEMM (each item's band
    read from the input's depths) runs exactly where the depth-folded 2-D
    forward would take that form, and equals the reference on integers and the
    folded form bit for bit on random data (the same GEMM, the same sums); so
    does the stride-1 input gradient run as its forward of the flipped weight."""
    xs, ws, kw = NATIVE_3D_GEMM[index]
    dt = np.dtype(dtype)
    geo = _native_geo(xs, ws, kw)
    st, pad, dil = _nd._pairs2(geo)
    g2 = convx._api._geometry((geo.N * geo.out[0], geo.C * ws[2]) + geo.sizes[1:],
                              (ws[0], ws[1] * ws[2]) + ws[3:], st, pad, dil, geo.groups)
    shift = _nd._conv.plan_info(g2.astuple(), "fwd", "im2col", dt)["fwd_shift"]
    native = _nd._native_3d(geo, "im2col", dt, 1)
    assert (native is not None) == shift and (native is None or native[2] == "im2col")
    if index == len(NATIVE_3D_GEMM) - 1:
        assert native is None            # 130 output channels: the packed GEMM
    rng = np.random.default_rng(xs[-1] * 5 + ws[0])
    x = rng.integers(-3, 4, xs).astype(dtype)
    w = rng.integers(-3, 4, ws).astype(dtype)
    b = rng.integers(-3, 4, ws[:1]).astype(dtype)
    was = _nd._conv._set_poison_workspace(True)
    try:
        y = convx.conv3d(x, w, b, algorithm="im2col", **kw)
        np.testing.assert_array_equal(y, ref_conv(x, w, b, **kw))
        np.testing.assert_array_equal(convx.conv3d(x, w, b, algorithm="im2col", threads=2,
                                                   **kw), y)
        gy = rng.integers(-3, 4, y.shape).astype(dtype)
        dx_ref = ref_conv_input(xs, w, gy, **kw)
        np.testing.assert_array_equal(convx.conv3d_input(xs, w, gy, algorithm="im2col", **kw),
                                      dx_ref)
        fgeo = _nd._flipped(geo)
        as_fwd = _nd._input_as_forward(geo, w, gy, dt, "im2col", 1)
        assert (as_fwd is not None) == (fgeo is not None and
                                         _nd._native_3d(fgeo, "im2col", dt, 1) is not None)
        if as_fwd is not None:
            np.testing.assert_array_equal(as_fwd, dx_ref)
        xr = rng.standard_normal(xs).astype(dtype)
        wr = rng.standard_normal(ws).astype(dtype)
        gr = rng.standard_normal(y.shape).astype(dtype)
        yr = convx.conv3d(xr, wr, b, algorithm="im2col", **kw)
        dxr = convx.conv3d_input(xs, wr, gr, algorithm="im2col", **kw)
        monkeypatch.setattr(_nd, "_NATIVE_3D", False)
        assert _nd._native_3d(geo, "im2col", dt, 1) is None
        np.testing.assert_array_equal(convx.conv3d(xr, wr, b, algorithm="im2col", **kw), yr)
        # the folded form's input gradient sums in another order: both against float64
        dx64 = ref_conv_input(xs, wr.astype(np.float64), gr.astype(np.float64), **kw)
        tol = (1e-5 if dtype == np.float32 else 1e-13) * np.abs(dx64).max()
        for got in (dxr, convx.conv3d_input(xs, wr, gr, algorithm="im2col", **kw)):
            np.testing.assert_allclose(got, dx64, rtol=0, atol=tol)
    finally:
        _nd._conv._set_poison_workspace(was)


def test_conv3d_native_out_and_nonfinite():
    """The native forward writes into a contiguous out in place and through a
    copy into any other; a non-finite weight keeps the input gradient on the
    folded form (whose NaNs where inf meets padding are the reference's)."""
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, (2, 4, 5, 9, 9)).astype(np.float32)
    w = rng.integers(-3, 4, (16, 4, 3, 3, 3)).astype(np.float32)
    assert _nd._native_3d(_native_geo(x.shape, w.shape, dict(padding=1)), "direct",
                          np.dtype(np.float32), 1) is not None
    ref = ref_conv(x, w, padding=1)
    out = np.full(ref.shape, np.nan, np.float32)
    assert convx.conv3d(x, w, padding=1, out=out, algorithm="direct") is out
    np.testing.assert_array_equal(out, ref)
    outf = np.full(ref.shape, np.nan, np.float32, order="F")
    assert convx.conv3d(x, w, padding=1, out=outf, algorithm="direct") is outf
    np.testing.assert_array_equal(outf, ref)
    wi = w.copy()
    wi[3, 1, 0, 2, 1] = np.inf
    gy = rng.integers(-3, 4, ref.shape).astype(np.float32)
    geo = _native_geo(x.shape, w.shape, dict(padding=1))
    assert _nd._input_as_forward(geo, wi, gy, np.dtype(np.float32), "direct", 1) is None
    with np.errstate(invalid="ignore"):
        dx = convx.conv3d_input(x.shape, wi, gy, padding=1, algorithm="direct")
        want = ref_conv_input(x.shape, wi.astype(np.float64), gy, padding=1)
    np.testing.assert_array_equal(np.isnan(dx), np.isnan(want))


# (the last: padding along the depth only)
SKIP_3D = [NATIVE_3D[0], NATIVE_3D[8], NATIVE_3D[10],
           ((2, 16, 5, 8, 20), (16, 16, 3, 3, 3), dict(padding=(1, 0, 0)))]


@pytest.mark.parametrize("index", range(len(SKIP_3D)))
def test_conv3d_native_skips_padding_only_for_finite_weights(index, dev_flags):
    """The native float32 forward runs the channel-vector tiles' edge rows and
    columns (skipping the zero padding's products) when the weight is finite:
    the same sums as every tap's (CX_DEV_NO_EDGE | CX_DEV_NO_ECOL = 768) on
    random floats; with an inf on a kernel column that reaches the padding it
    multiplies every tap, so that the reference's NaNs (0 * inf) are there."""
    xs, ws, kw = SKIP_3D[index]
    f32 = np.float32
    geo = _native_geo(xs, ws, kw)
    native = _nd._native_3d(geo, "direct", np.dtype(f32), 1)
    assert native is not None
    info = _nd._conv.conv3d_plan_info(native[0], native[1], f32)
    if info["dk_mode"] != 2:
        pytest.skip("not on the channel-vector tiles")
    assert info["edge_columns"] == (index < 3)
    rng = np.random.default_rng(index)
    x = rng.standard_normal(xs).astype(f32)
    w = rng.standard_normal(ws).astype(f32)
    b = rng.standard_normal(ws[0]).astype(f32)
    y = convx.conv3d(x, w, b, algorithm="direct", **kw)
    dev_flags(768)
    every = convx.conv3d(x, w, b, algorithm="direct", **kw)
    dev_flags(0)
    np.testing.assert_array_equal(y, every)
    np.testing.assert_allclose(y, ref_conv(x.astype(np.float64), w.astype(np.float64),
                                           b.astype(np.float64), **kw), rtol=1e-4, atol=1e-4)
    wi = w.copy()
    wi[1, 0, 0, 1, 0] = np.inf      # (depth tap 0, kernel column 0: both reach padding)
    with np.errstate(invalid="ignore"):
        got = convx.conv3d(x, wi, algorithm="direct", **kw)
        want = ref_conv(x.astype(np.float64), wi.astype(np.float64), **kw)
    assert np.isnan(want).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


def test_conv3d_thread_invariance():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 8, 6, 9, 9)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3, 3)).astype(np.float32)
    y1 = convx.conv3d(x, w, padding=1, threads=1)
    np.testing.assert_array_equal(convx.conv3d(x, w, padding=1, threads=2), y1)
    g = rng.standard_normal(y1.shape).astype(np.float32)
    np.testing.assert_array_equal(convx.conv3d_weight(x, w.shape, g, padding=1, threads=1),
                                  convx.conv3d_weight(x, w.shape, g, padding=1, threads=2))
    np.testing.assert_array_equal(convx.conv3d_input(x.shape, w, g, padding=1, threads=1),
                                  convx.conv3d_input(x.shape, w, g, padding=1, threads=2))


def test_conv3d_out_and_formats():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 5, 6, 7))
    w = rng.standard_normal((3, 4, 2, 3, 3))
    ref = ref_conv(x, w, padding=1)
    out = np.empty((2, 3, 6, 6, 7))
    assert convx.conv3d(x, w, padding=1, out=out) is out
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    outf = np.empty((2, 3, 6, 6, 7), order="F")
    convx.conv3d(x, w, padding=1, out=outf)
    np.testing.assert_allclose(outf, ref, rtol=0, atol=1e-12)
    # non-contiguous input and weight, integer weight
    xs = np.asfortranarray(x)[:, :, ::-1][:, :, ::-1]
    np.testing.assert_allclose(convx.conv3d(xs, w, padding=1), ref, rtol=0, atol=1e-12)
    wi = rng.integers(-2, 3, (3, 4, 2, 3, 3))
    np.testing.assert_allclose(convx.conv3d(x, wi), ref_conv(x, wi), rtol=0, atol=1e-12)
    # out that is the input's memory: computed aside, then copied
    buf = rng.standard_normal((1, 2, 4, 4, 4))
    want = ref_conv(buf, np.ones((2, 2, 1, 1, 1)))
    convx.conv3d(buf, np.ones((2, 2, 1, 1, 1)), out=buf)
    np.testing.assert_allclose(buf, want, rtol=0, atol=1e-12)


def test_empty_sizes():
    w = np.ones((3, 0, 2, 2, 2))
    y = convx.conv3d(np.ones((2, 0, 3, 3, 3)), w, np.arange(3.0))
    np.testing.assert_array_equal(y, np.broadcast_to(np.arange(3.0).reshape(3, 1, 1, 1),
                                                     (2, 3, 2, 2, 2)))
    assert convx.conv3d(np.ones((0, 2, 3, 3, 3)), np.ones((3, 2, 2, 2, 2))).shape == \
        (0, 3, 2, 2, 2)
    np.testing.assert_array_equal(
        convx.conv3d_weight(np.ones((0, 2, 3, 3, 3)), (3, 2, 2, 2, 2), np.ones((0, 3, 2, 2, 2))),
        np.zeros((3, 2, 2, 2, 2)))
    np.testing.assert_array_equal(
        convx.conv3d_input((0, 2, 3, 3, 3), np.ones((3, 2, 2, 2, 2)), np.ones((0, 3, 2, 2, 2))),
        np.zeros((0, 2, 3, 3, 3)))
    assert convx.conv1d(np.ones((0, 3, 5)), np.ones((4, 3, 2))).shape == (0, 4, 4)
    np.testing.assert_array_equal(convx.conv1d(np.ones((2, 3, 0)), np.ones((4, 3, 1)),
                                               padding="same"), np.zeros((2, 4, 0)))


def test_finite_differences_3d():
    """conv3d's two gradients against central differences of a scalar loss (float64)."""
    rng = np.random.default_rng(6)
    kw = dict(stride=(2, 1, 1), padding=(1, 1, 0), dilation=(1, 2, 1), groups=2)
    x = rng.standard_normal((1, 4, 4, 5, 3))
    w = rng.standard_normal((2, 2, 2, 2, 2))
    g = rng.standard_normal(convx.conv3d(x, w, **kw).shape)

    def loss(xx, ww):
        return np.vdot(convx.conv3d(xx, ww, **kw), g)

    eps = 1e-6
    dw = convx.conv3d_weight(x, w.shape, g, **kw)
    dx = convx.conv3d_input(x.shape, w, g, **kw)
    for arr, grad, which in ((w, dw, "w"), (x, dx, "x")):
        for idx in list(np.ndindex(arr.shape))[::7]:
            e = np.zeros_like(arr)
            e[idx] = eps
            if which == "w":
                num = (loss(x, w + e) - loss(x, w - e)) / (2 * eps)
            else:
                num = (loss(x + e, w) - loss(x - e, w)) / (2 * eps)
            assert abs(num - grad[idx]) < 1e-7 * max(1, abs(num)), (which, idx)


# --------------------------------------------------------------------------- padding modes

MODES = ["reflect", "replicate", "circular"]
MODE_CASES = [
    ((2, 3, 11), (4, 3, 3), dict(padding=1)),
    ((1, 2, 9), (2, 1, 5), dict(padding="same", groups=2)),
    ((1, 2, 10), (2, 2, 4), dict(padding=((3, 1),), stride=2)),
    ((2, 3, 7, 8), (4, 3, 3, 3), dict(padding=1)),
    ((1, 2, 6, 9), (4, 1, 3, 5), dict(padding=(2, 3), dilation=(1, 2), groups=2)),
    ((1, 2, 5, 6), (3, 2, 2, 4), dict(padding="same", stride=(2, 1))),
    ((1, 2, 4, 5, 6), (3, 2, 3, 3, 3), dict(padding=1)),
    ((2, 2, 5, 4, 6), (2, 2, 2, 3, 2), dict(padding=((1, 0), 2, (1, 1)), stride=(1, 2, 1))),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", MODE_CASES, ids=[f"{len(c[0]) - 2}d_{i}"
                                                  for i, c in enumerate(MODE_CASES)])
def test_padding_modes(mode, case):
    """Forward and both gradients with reflect/replicate/circular, exact on integers."""
    xs, ws, kw = case
    nd = len(xs) - 2
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    y = FWD[nd](x, w, padding_mode=mode, **kw)
    np.testing.assert_array_equal(y, ref_conv(x, w, mode=mode, **kw))
    g = rng.integers(-3, 4, y.shape).astype(np.float64)
    np.testing.assert_array_equal(WGT[nd](x, ws, g, padding_mode=mode, **kw),
                                  ref_conv_weight(x, ws, g, mode=mode, **kw))
    np.testing.assert_array_equal(INP[nd](xs, w, g, padding_mode=mode, **kw),
                                  ref_conv_input(xs, w, g, mode=mode, **kw))
    # and as a gradient: the adjoint identity on random floats
    xr, wr = rng.standard_normal(xs), rng.standard_normal(ws)
    gr = rng.standard_normal(y.shape)
    a = np.vdot(FWD[nd](xr, wr, padding_mode=mode, **kw), gr)
    assert np.isclose(a, np.vdot(xr, INP[nd](xs, wr, gr, padding_mode=mode, **kw)),
                      rtol=1e-11, atol=1e-11)


# padding-mode input gradients at the edges of the fold: pads wider than the
# kernel's reach (rows and columns no tap reads), strides that leave the last
# rows unread, dilation, asymmetric pads, one-pixel images
STRIP_CASES = [
    ("same3x3", (2, 3, 7, 9), (4, 3, 3, 3), dict(padding=1)),
    ("lenet_5x5_pad2", (2, 2, 6, 6), (3, 2, 5, 5), dict(padding=2)),
    ("pad_beyond_kernel", (1, 2, 5, 6), (3, 2, 2, 2), dict(padding=(4, 5))),
    ("stride2_unread_rows", (1, 2, 9, 10), (2, 2, 3, 3), dict(padding=((2, 3), (1, 4)), stride=2)),
    ("stride3_dilation2", (1, 3, 11, 12), (2, 3, 3, 2),
     dict(padding=((3, 1), (2, 2)), stride=(3, 2), dilation=(2, 3))),
    ("depthwise_mult2", (2, 3, 6, 7), (6, 1, 3, 3), dict(padding=1, groups=3)),
    ("one_pixel", (1, 2, 1, 1), (2, 2, 3, 3), dict(padding=1)),
    ("one_row_kernel", (1, 2, 4, 8), (2, 2, 1, 5), dict(padding=(0, 2))),
]


@pytest.mark.parametrize("last", [False, True], ids=["NCHW", "NHWC"])
@pytest.mark.parametrize("case,mode", [
    pytest.param(c, m, id=f"{c[0]}-{m}") for c in STRIP_CASES for m in MODES
    if not (c[0] == "one_pixel" and m == "reflect")])     # (reflect can not pad 1 pixel)
def test_mode_input_gradient_edge_geometries(case, mode, last):
    """The padding-mode input gradient: on integer data exactly the reference
    and exactly the padded input's whole gradient folded by _padmode.fold, in
    both layouts, batched and unbatched, float32 and float64."""
    _, xs, ws, kw = case
    n = xs[2:]
    pads = kw["padding"]
    pads = ((pads, pads),) * 2 if isinstance(pads, int) else tuple(
        (p, p) if isinstance(p, int) else p for p in pads)
    if mode == "reflect" and any(max(p) >= k for p, k in zip(pads, n)):
        pads = tuple((min(lo, k - 1), min(hi, k - 1)) for (lo, hi), k in zip(pads, n))
    if mode == "circular":
        pads = tuple((min(lo, k), min(hi, k)) for (lo, hi), k in zip(pads, n))
    kw = dict(kw, padding=pads)
    rng = np.random.default_rng(31)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    y = ref_conv(np.zeros(xs), w, mode=mode, **kw)
    g = rng.integers(-3, 4, y.shape).astype(np.float64)
    want = ref_conv_input(xs, w, g, mode=mode, **kw)
    # the old way: the padded input's gradient, folded
    psize = xs[:2] + tuple(k + lo + hi for k, (lo, hi) in zip(n, pads))
    dxp = convx.conv2d_input(psize, w, g, **dict(kw, padding=0))
    np.testing.assert_array_equal(_padmode.fold(dxp.copy(), pads, mode), want)
    t = (lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1))) if last else (lambda a: a)
    size = t(np.zeros(xs)).shape
    for dtype in (np.float32, np.float64):
        got = convx.conv2d_input(size, w.astype(dtype), t(g).astype(dtype), padding_mode=mode,
                                 layout="NHWC" if last else "NCHW", **kw)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, t(want))
        one = convx.conv2d_input(size[1:], w.astype(dtype), t(g)[0].astype(dtype),
                                 padding_mode=mode, layout="NHWC" if last else "NCHW", **kw)
        np.testing.assert_array_equal(one, t(want)[0])


@pytest.mark.parametrize("mode", MODES)
def test_pad_and_fold(mode):
    """pad matches numpy's pad; fold is its adjoint, axis by axis and at the corners."""
    rng = np.random.default_rng(12)
    npmode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    for shape, pads in (((2, 3, 5, 7), ((2, 1), (3, 3))), ((1, 2, 6), ((5, 4),)),
                        ((2, 1, 5, 3, 2), ((1, 2), (0, 2), (1, 1)))):
        sizes = shape[-len(pads):]
        if mode == "reflect":
            pads = tuple((min(lo, n - 1), min(hi, n - 1)) for (lo, hi), n in zip(pads, sizes))
        if mode == "circular":
            pads = tuple((min(lo, n), min(hi, n)) for (lo, hi), n in zip(pads, sizes))
        x = rng.standard_normal(shape)
        xp = _padmode.pad(x, pads, mode)
        np.testing.assert_array_equal(
            xp, np.pad(x, ((0, 0),) * (x.ndim - len(pads)) + pads, mode=npmode))
        g = rng.standard_normal(xp.shape)
        assert np.isclose(np.vdot(xp, g), np.vdot(x, _padmode.fold(g, pads, mode)),
                          rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("last", [False, True], ids=["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fold_pad2d_equals_the_numpy_fold(mode, last, dtype):
    """The one-pass fold of the 2-D input gradient (_conv.fold_pad2d) equals
    _padmode.fold, exactly on small integers (every order of the sums is
    exact) and closely on random values; with 1 and 3 threads alike."""
    rng = np.random.default_rng(13)
    for (N, C, H, W), ((t, b), (l, r)) in (((2, 3, 5, 7), ((2, 1), (3, 3))),
                                           ((1, 1, 3, 4), ((0, 2), (1, 0))),
                                           ((3, 2, 1, 6), ((0, 0), (2, 2)))):
        if mode == "reflect":
            t, b, l, r = min(t, H - 1), min(b, H - 1), min(l, W - 1), min(r, W - 1)
        if mode == "circular":
            t, b, l, r = min(t, H), min(b, H), min(l, W), min(r, W)
        pads = ((t, b), (l, r))
        Hp, Wp = H + t + b, W + l + r
        pshape = (N, Hp, Wp, C) if last else (N, C, Hp, Wp)
        for g in (rng.integers(-9, 10, pshape).astype(dtype),
                  rng.standard_normal(pshape).astype(dtype)):
            want = _padmode.fold(g.copy(), pads, mode, channels_last=last)
            for threads in (1, 3):
                got = np.full(want.shape, np.nan, dtype)
                convx._conv.fold_pad2d(
                    g.reshape(-1), got.reshape(-1), (N, C, H, W, t, l, Hp, Wp),
                    _padmode.source_index(H, t, b, mode).astype(np.intp),
                    _padmode.source_index(W, l, r, mode).astype(np.intp), last, threads)
                np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13,
                                           atol=1e-5 if dtype == np.float32 else 1e-12)
                if g.dtype == dtype and np.all(g == np.round(g)):
                    np.testing.assert_array_equal(got, want)


def test_fold_pad2d_rejects_inconsistent_sizes():
    g = np.zeros(2 * 3 * 6 * 8)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        convx._conv.fold_pad2d(g, np.zeros(2 * 3 * 4 * 5), (2, 3, 4, 5, 1, 1, 6, 8),
                               np.zeros(6, np.intp), np.zeros(7, np.intp), False, 1)
    with pytest.raises(ValueError, match=r"src_w\[3\] = 5 outside \[0, 5\)"):
        convx._conv.fold_pad2d(np.zeros(2 * 3 * 6 * 7), np.zeros(2 * 3 * 4 * 5),
                               (2, 3, 4, 5, 1, 1, 6, 7),
                               np.zeros(6, np.intp), np.array([0, 0, 0, 5, 0, 0, 0], np.intp),
                               False, 1)


def test_padding_mode_zero_padding_is_a_no_op():
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_array_equal(convx.conv2d(x, w, padding_mode="reflect"), convx.conv2d(x, w))


def test_padding_mode_float32_and_out():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out = np.empty((2, 4, 9, 9), np.float32)
    y = convx.conv2d(x, w, padding=1, padding_mode="circular", out=out)
    assert y is out
    np.testing.assert_allclose(out, ref_conv(x, w, padding=1, mode="circular"), atol=1e-4)


def test_padding_mode_errors():
    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"padding_mode must be one of"):
        convx.conv2d(x, w, padding=1, padding_mode="mirror")
    with pytest.raises(TypeError, match=r"padding_mode must be a string"):
        convx.conv2d(x, w, padding=1, padding_mode=0)
    with pytest.raises(ValueError, match=r"reflect.*smaller than the input height \(4\)"):
        convx.conv2d(x, w, padding=(4, 1), padding_mode="reflect")
    with pytest.raises(ValueError, match=r"circular.*at most the input width \(4\)"):
        convx.conv2d(x, w, padding=(1, 5), padding_mode="circular")
    with pytest.raises(ValueError, match=r"reflect.*input_size length \(3\)"):
        convx.conv1d_input((1, 1, 3), np.ones((1, 1, 3)), np.ones((1, 1, 7)), padding=3,
                           padding_mode="reflect")
    with pytest.raises(ValueError, match=r"reflect.*depth \(2\)"):
        convx.conv3d(np.ones((1, 1, 2, 5, 5)), np.ones((1, 1, 1, 1, 1)), padding=2,
                     padding_mode="reflect")
    with pytest.raises(ValueError, match=r"cannot pad an empty"):
        convx.conv2d(np.ones((1, 1, 0, 4)), w, padding=2, padding_mode="replicate")


# --------------------------------------------------------------------------- transposed

TRANSPOSE_CASES = [
    ((2, 4, 7), (4, 3, 3), dict()),
    ((1, 2, 5), (2, 2, 4), dict(stride=3, padding=1, output_padding=2)),
    ((2, 4, 6), (4, 1, 3), dict(stride=2, groups=4, dilation=2, output_padding=1)),
    ((2, 4, 5, 6), (4, 3, 3, 2), dict(groups=2)),
    ((1, 2, 4, 5), (2, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 2, 4, 3), (2, 2, 3, 2), dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2),
                                      output_padding=(1, 2))),
    ((1, 1, 3, 3), (1, 1, 3, 3), dict(dilation=3, output_padding=2, padding=1)),
    ((1, 1, 3, 3), (1, 1, 2, 2), dict(dilation=4, output_padding=3)),
    ((2, 2, 3, 4, 3), (2, 3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 2, 3, 3), (4, 1, 3, 1, 2), dict(groups=2, stride=(1, 2, 3))),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=range(len(TRANSPOSE_CASES)))
@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
def test_conv_transpose(case, algorithm):
    xs, ws, kw = case
    nd = len(xs) - 2
    rng = np.random.default_rng(20)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    b = rng.integers(-3, 4, ws[1] * kw.get("groups", 1)).astype(np.float64)
    y = TRN[nd](x, w, b, algorithm=algorithm, **kw)
    np.testing.assert_array_equal(y, ref_conv_transpose(x, w, b, **kw))
    # float32 random data
    xf = rng.standard_normal(xs).astype(np.float32)
    wf = rng.standard_normal(ws).astype(np.float32)
    yf = TRN[nd](xf, wf, algorithm=algorithm, **kw)
    assert yf.dtype == np.float32
    np.testing.assert_allclose(yf, ref_conv_transpose(xf, wf, **kw), rtol=0, atol=1e-4)


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=range(len(TRANSPOSE_CASES)))
def test_conv_transpose_gradients(case):
    """The documented gradients of a transposed convolution (forward and weight
    gradient of the convolution it transposes) satisfy the adjoint identity."""
    xs, ws, kw = case
    nd = len(xs) - 2
    kw = dict(kw)
    kw.pop("output_padding", None)
    rng = np.random.default_rng(21)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = TRN[nd](x, w, **kw)
    g = rng.standard_normal(y.shape)
    a = np.vdot(y, g)
    conv_kw = dict(stride=kw.get("stride", 1), padding=kw.get("padding", 0),
                   dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
    assert np.isclose(a, np.vdot(x, FWD[nd](g, w, None, **conv_kw)), rtol=1e-11)
    assert np.isclose(a, np.vdot(w, WGT[nd](g, ws, x, **conv_kw)), rtol=1e-11)


def test_conv_transpose_output_size():
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3))
    for h in (7, 8):
        y = convx.conv_transpose2d(x, w, stride=2, output_size=(h, 8))
        np.testing.assert_array_equal(y, ref_conv_transpose(x, w, stride=2,
                                                            output_padding=(h - 7, 1)))
    assert convx.conv_transpose2d(x, w, stride=2, output_size=(1, 1, 8, 7)).shape == \
        (1, 1, 8, 7)
    with pytest.raises(ValueError, match=r"output height must be in \[7, 8\].*got 9"):
        convx.conv_transpose2d(x, w, stride=2, output_size=(9, 8))
    with pytest.raises(ValueError, match=r"output length must be in \[5, 5\].*got 4"):
        convx.conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 3)), output_size=(4,))
    with pytest.raises(ValueError, match=r"output_size or output_padding, not both"):
        convx.conv_transpose2d(x, w, stride=2, output_padding=1, output_size=(8, 8))
    with pytest.raises(ValueError, match=r"output_size must have"):
        convx.conv_transpose2d(x, w, stride=2, output_size=(8,))


def test_conv_transpose_errors():
    x, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"output_padding must be smaller than stride or "
                                         r"dilation"):
        convx.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"weight must have C_in = 2 rows"):
        convx.conv_transpose2d(x, np.ones((3, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"groups=3 must divide the input channels"):
        convx.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"padding must be an int or 2 ints"):
        convx.conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match=r"padding \(3, 3\) is too large"):
        convx.conv_transpose2d(x, w, padding=3)
    with pytest.raises(ValueError, match=r"4-D \(C_in, C_out/groups, kH, kW\)"):
        convx.conv_transpose2d(x, np.ones((2, 1, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(C_out,\) = \(2,\)"):
        convx.conv_transpose2d(x, w, np.ones(3), groups=2)
    with pytest.raises(ValueError, match=r"at least one input pixel"):
        convx.conv_transpose1d(np.ones((1, 2, 0)), np.ones((2, 1, 3)))


# --------------------------------------------------------------------------- errors

def test_nd_errors_name_the_arguments():
    with pytest.raises(ValueError, match=r"input must be a 3-D \(N, C, L\) array or a 2-D"):
        convx.conv1d(np.ones((1, 1, 1, 4)), np.ones((1, 1, 3)))
    with pytest.raises(ValueError, match=r"weight must be a 5-D \(K, C/groups, T, R, S\)"):
        convx.conv3d(np.ones((1, 1, 4, 4, 4)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"weight has 2 input channels per group but input "
                                         r"has 3 channels"):
        convx.conv3d(np.ones((1, 3, 4, 4, 4)), np.ones((1, 2, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"dilated kernel depth 5 .* padded input depth 4"):
        convx.conv3d(np.ones((1, 1, 4, 8, 8)), np.ones((1, 1, 3, 3, 3)), dilation=(2, 1, 1))
    with pytest.raises(ValueError, match=r"stride must be an int or 3 ints"):
        convx.conv3d(np.ones((1, 1, 4, 4, 4)), np.ones((1, 1, 1, 1, 1)), stride=(1, 2))
    with pytest.raises(ValueError, match=r"padding must be an int or 1 entries.*\(\(lo, hi\)\),"):
        convx.conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 1)), padding=(1, 2))
    with pytest.raises(TypeError, match=r"stride must be an integer"):
        convx.conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 1)), stride=1.5)
    with pytest.raises(ValueError, match=r"grad_output must have the forward output's shape "
                                         r"\(1, 1, 2, 2, 2\)"):
        convx.conv3d_weight(np.ones((1, 1, 4, 4, 4)), (1, 1, 3, 3, 3), np.ones((1, 1, 2, 2, 3)))
    with pytest.raises(ValueError, match=r"weight_size must have 5 entries"):
        convx.conv3d_weight(np.ones((1, 1, 4, 4, 4)), (1, 1, 3, 3), np.ones((1, 1, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"input_size must have 2 or 3 entries"):
        convx.conv1d_input((1, 1, 4, 4), np.ones((1, 1, 3)), np.ones((1, 1, 2)))
    with pytest.raises(ValueError, match=r"bias must have shape \(K,\) = \(2,\)"):
        convx.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((2, 1, 1, 1, 1)), np.ones(3))
    with pytest.raises(ValueError, match=r"out must have the result's shape"):
        convx.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((2, 1, 1, 1, 1)), out=np.empty(3))
    with pytest.raises(TypeError, match=r"out must be a numpy.ndarray"):
        convx.conv1d(np.ones((1, 1, 3)), np.ones((2, 1, 1)), out=[0.0])
    with pytest.raises(ValueError, match=r"algorithm must be one of"):
        convx.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((2, 1, 1, 1, 1)), algorithm="fast")
    with pytest.raises(ValueError, match=r"zero-sized kernel"):
        convx.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((2, 1, 1, 0, 1)))


# --------------------------------------------------------------------------- PyTorch

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_torch(case):
    torch = _torch()
    import torch.nn.functional as F
    _, xs, ws, kw = case
    nd = len(xs) - 2
    pad = kw.get("padding", 0)
    if isinstance(pad, tuple) and any(isinstance(p, tuple) for p in pad):
        pytest.skip("PyTorch has no asymmetric padding")
    if pad == "same" and kw.get("stride", 1) != 1:
        pytest.skip("PyTorch has padding='same' only for stride 1")
    rng = np.random.default_rng(30)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    tf = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    yt = tf(xt, wt, **kw)
    y = FWD[nd](x, w, **kw)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(WGT[nd](x, ws, g, **kw), wt.grad.numpy(), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(INP[nd](xs, w, g, **kw), xt.grad.numpy(), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=range(len(TRANSPOSE_CASES)))
def test_transpose_against_torch(case):
    torch = _torch()
    import torch.nn.functional as F
    xs, ws, kw = case
    nd = len(xs) - 2
    rng = np.random.default_rng(31)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    tf = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[nd]
    want = tf(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy()
    np.testing.assert_allclose(TRN[nd](x, w, b, **kw), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_padding_modes_against_torch(mode):
    torch = _torch()
    import torch.nn.functional as F
    rng = np.random.default_rng(32)
    for xs, ws, p in (((2, 3, 9), (4, 3, 3), 2), ((2, 3, 7, 8), (4, 3, 3, 3), 1),
                      ((1, 2, 4, 5, 6), (3, 2, 3, 3, 3), 1)):
        nd = len(xs) - 2
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        tf = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
        yt = tf(F.pad(xt, (p,) * (2 * nd), mode=mode), wt)
        y = FWD[nd](x, w, padding=p, padding_mode=mode)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        g = rng.standard_normal(y.shape)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(INP[nd](xs, w, g, padding=p, padding_mode=mode),
                                   xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(WGT[nd](x, ws, g, padding=p, padding_mode=mode),
                                   wt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_explain_nd():
    """explain answers for the 2-D call a 1-D or 3-D one runs, and says what auto runs."""
    e1 = convx.explain("conv1d", (8, 64, 16000), (64, 64, 9), padding=4)
    assert e1.features["kernel"] == (1, 9) and e1.features["output_pixels"] == 16000
    assert e1.algorithm == "direct"     # column tiles of the long rows
    e3 = convx.explain("conv3d_weight", (2, 8, 6, 10, 10), (4, 8, 3, 3, 3), padding=1)
    assert e3.op == "wgrad"
    assert e3.features["C_per_group"] == 24 and e3.features["batch"] == 12
    assert convx.explain("conv1d_input", (3, 40), (2, 3, 5)).op == "dgrad"
    # 3-D operations on the direct band kernels run natively, and say so
    for op in ("conv3d", "conv3d_input"):
        e = convx.explain(op, (2, 32, 6, 12, 12), (32, 32, 3, 3, 3), padding=1)
        assert ("natively" in e.reason) == (e.algorithm == "direct"), e
    e = convx.explain("conv3d_input", (2, 32, 6, 12, 12), (32, 32, 3, 3, 3), padding=1,
                      stride=2)
    assert "natively" not in e.reason
    with pytest.raises(ValueError, match=r"input_shape must have 4 or 5 entries"):
        convx.explain("conv3d", (1, 2, 3), (1, 2, 1, 1, 1))
    with pytest.raises(ValueError, match=r"weight_shape's dilated kernel depth"):
        convx.explain("conv3d", (1, 2, 1, 5, 5), (1, 2, 3, 1, 1))


def test_auto_avoids_the_plain_loops(monkeypatch):
    """Where the direct kernels cannot run (their band would not fit), auto
    sends a wide layer to im2col rather than to the direct plain loops."""
    from convx import _api
    monkeypatch.setattr(_api, "_direct_has_kernels", lambda op, geo, dtype: False)
    e = convx.explain("conv1d", (8, 64, 16000), (64, 64, 9), padding=4)
    assert e.algorithm == "im2col" and "too long for the direct kernels" in e.reason
    # thin layers keep the direct algorithm (its plain loops beat a mostly empty GEMM)
    assert convx.explain("conv1d", (8, 1, 16000), (2, 1, 9), padding=4).algorithm == "direct"


# --------------------------------------------------------------------------- layouts

def _to_last(a):
    """(N, C, *spatial) -> (N, *spatial, C), C-contiguous."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def _to_first(a):
    return np.moveaxis(a, -1, 1)


LAST = {1: "NLC", 2: "NHWC", 3: "NDHWC"}
LAYOUT_CASES = CASES + [
    ("2d_pad_stride", (2, 3, 9, 8), (4, 3, 3, 3), dict(padding=1, stride=2)),
    ("2d_depthwise_mult", (1, 4, 7, 9), (8, 1, 3, 3), dict(groups=4, padding="same")),
    ("2d_grouped_dilated", (2, 6, 10, 9), (4, 3, 3, 2), dict(groups=2, dilation=2)),
]


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
def test_channels_last_exact_on_integers(case):
    """layout='NLC'/'NHWC'/'NDHWC': the same numbers as the reference, for the
    three operations, with inputs and results channels-last."""
    _, xs, ws, kw = case
    nd = len(xs) - 2
    rng = np.random.default_rng(40)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    b = rng.integers(-3, 4, ws[0]).astype(np.float64)
    lay = dict(layout=LAST[nd])
    y = FWD[nd](_to_last(x), w, b, **lay, **kw)
    np.testing.assert_array_equal(_to_first(y), ref_conv(x, w, b, **kw))
    g = rng.integers(-3, 4, _to_first(y).shape).astype(np.float64)
    np.testing.assert_array_equal(WGT[nd](_to_last(x), ws, _to_last(g), **lay, **kw),
                                  ref_conv_weight(x, ws, g, **kw))
    xs_last = (xs[0],) + xs[2:] + (xs[1],)
    np.testing.assert_array_equal(_to_first(INP[nd](xs_last, w, _to_last(g), **lay, **kw)),
                                  ref_conv_input(xs, w, g, **kw))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", MODE_CASES, ids=[f"{len(c[0]) - 2}d_{i}"
                                                  for i, c in enumerate(MODE_CASES)])
def test_channels_last_padding_modes(mode, case):
    xs, ws, kw = case
    nd = len(xs) - 2
    rng = np.random.default_rng(41)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    lay = dict(layout=LAST[nd], padding_mode=mode)
    y = FWD[nd](_to_last(x), w, **lay, **kw)
    np.testing.assert_array_equal(_to_first(y), ref_conv(x, w, mode=mode, **kw))
    g = rng.integers(-3, 4, _to_first(y).shape).astype(np.float64)
    np.testing.assert_array_equal(WGT[nd](_to_last(x), ws, _to_last(g), **lay, **kw),
                                  ref_conv_weight(x, ws, g, mode=mode, **kw))
    xs_last = (xs[0],) + xs[2:] + (xs[1],)
    np.testing.assert_array_equal(_to_first(INP[nd](xs_last, w, _to_last(g), **lay, **kw)),
                                  ref_conv_input(xs, w, g, mode=mode, **kw))


def test_channels_last_unbatched_out_float32_threads():
    rng = np.random.default_rng(42)
    x = rng.standard_normal((9, 11, 5)).astype(np.float32)       # (H, W, C)
    w = rng.standard_normal((6, 5, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    y = convx.conv2d(x, w, b, padding=1, layout="NHWC")
    assert y.shape == (9, 11, 6) and y.dtype == np.float32
    want = ref_conv(np.moveaxis(x, -1, 0)[None], w, b, padding=1)[0]
    np.testing.assert_allclose(np.moveaxis(y, -1, 0), want, rtol=0, atol=1e-4)
    out = np.empty((9, 11, 6), np.float32, order="F")
    assert convx.conv2d(x, w, b, padding=1, layout="NHWC", out=out) is out
    np.testing.assert_array_equal(out, y)
    # thread counts give the same bits, for the three operations
    xb = rng.standard_normal((3, 12, 10, 8)).astype(np.float32)
    wb = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    gb = rng.standard_normal((3, 12, 10, 16)).astype(np.float32)
    kw = dict(padding=1, layout="NHWC")
    for t in (2, 3):
        np.testing.assert_array_equal(convx.conv2d(xb, wb, threads=t, **kw),
                                      convx.conv2d(xb, wb, threads=1, **kw))
        np.testing.assert_array_equal(convx.conv2d_weight(xb, wb.shape, gb, threads=t, **kw),
                                      convx.conv2d_weight(xb, wb.shape, gb, threads=1, **kw))
        np.testing.assert_array_equal(convx.conv2d_input(xb.shape, wb, gb, threads=t, **kw),
                                      convx.conv2d_input(xb.shape, wb, gb, threads=1, **kw))
    # conv1d NLC is conv2d NHWC on one row, unbatched too
    x1 = rng.standard_normal((30, 4))
    w1 = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(
        convx.conv1d(x1, w1, padding=2, layout="NLC"),
        convx.conv1d(x1.T, w1, padding=2).T, rtol=0, atol=1e-12)


def test_channels_last_empty_and_errors():
    w = np.ones((3, 2, 3, 3))
    y = convx.conv2d(np.ones((2, 5, 5, 0)), np.ones((3, 0, 3, 3)), np.arange(3.0),
                     layout="NHWC")
    np.testing.assert_array_equal(y, np.broadcast_to(np.arange(3.0), (2, 3, 3, 3)))
    assert convx.conv2d(np.ones((0, 5, 5, 2)), w, layout="NHWC").shape == (0, 3, 3, 3)
    np.testing.assert_array_equal(
        convx.conv2d_weight(np.ones((0, 5, 5, 2)), w.shape, np.ones((0, 3, 3, 3)),
                            layout="NHWC"), np.zeros(w.shape))
    with pytest.raises(ValueError, match=r"layout must be one of \('NCHW', 'NHWC'\)"):
        convx.conv2d(np.ones((1, 5, 5, 2)), w, layout="NWHC")
    with pytest.raises(TypeError, match=r"layout must be a string"):
        convx.conv2d(np.ones((1, 5, 5, 2)), w, layout=None)
    with pytest.raises(ValueError, match=r"layout must be one of \('NCDHW', 'NDHWC'\)"):
        convx.conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((1, 2, 1, 1, 1)), layout="NHWC")
    with pytest.raises(ValueError, match=r"algorithm='fft' is not available with "
                                         r"layout='NHWC'"):
        convx.conv2d(np.ones((1, 5, 5, 2)), w, layout="NHWC", algorithm="fft")
    with pytest.raises(ValueError, match=r"weight has 2 input channels per group but input "
                                         r"has 5 channels"):
        convx.conv2d(np.ones((1, 2, 4, 5)), w, layout="NHWC")
    with pytest.raises(ValueError, match=r"grad_output must have the forward output's shape "
                                         r"\(1, 3, 3, 3\)"):
        convx.conv2d_weight(np.ones((1, 5, 5, 2)), w.shape, np.ones((1, 3, 3, 3, 1)),
                            layout="NHWC")
    with pytest.raises(ValueError, match=r"input must be a 3-D \(N, L, C\) array"):
        convx.conv1d(np.ones((1, 2, 3, 4)), np.ones((1, 2, 1)), layout="NLC")
    with pytest.raises(ValueError, match=r"input shape \(1, 2, 3\)"):
        convx.conv1d(np.ones((1, 2, 3)), np.ones((1, 2, 1)), layout="NLC")


# --------------------------------------------------------------------------- modes in the kernels

KERNEL_MODE_CASES = [
    ("pad2", (2, 3, 9, 8), (4, 3, 3, 3), dict(padding=2)),
    ("stride_dilation_asym", (1, 2, 11, 13), (3, 2, 3, 2),
     dict(stride=(2, 3), dilation=(2, 1), padding=((3, 1), (0, 2)))),
    ("depthwise", (2, 6, 10, 12), (6, 1, 5, 5), dict(groups=6, padding=2)),
    ("same_even", (1, 4, 7, 10), (8, 4, 4, 2), dict(padding="same")),
    ("long_rows_column_tiles", (1, 64, 1, 5000), (4, 64, 1, 9), dict(padding=(0, 4))),
    ("pad_whole_image", (1, 1, 3, 4), (2, 1, 3, 3), dict(padding=(2, 3))),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", KERNEL_MODE_CASES, ids=[c[0] for c in KERNEL_MODE_CASES])
def test_padding_modes_in_the_direct_kernels(mode, case):
    """algorithm="direct": the register-blocked kernels fill the padding with
    the mode's pixels in their bands (no padded copy); the same bits as the
    reference on integer data, forward and weight gradient, float32 and float64."""
    from convx import _api
    _, xs, ws, kw = case
    if mode == "reflect" and case[0] == "pad_whole_image":
        kw = dict(padding=(2, 2))
    rng = np.random.default_rng(50)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    b = rng.integers(-3, 4, ws[0]).astype(np.float64)
    want = ref_conv(x, w, b, mode=mode, **kw)
    g = rng.integers(-3, 4, want.shape).astype(np.float64)
    want_w = ref_conv_weight(x, ws, g, mode=mode, **kw)
    geo = _api._geometry(xs, ws, kw.get("stride", 1), kw["padding"], kw.get("dilation", 1),
                         kw.get("groups", 1))
    for dtype in (np.float32, np.float64):
        assert _api._mode_in_kernels("fwd", "direct", geo, np.dtype(dtype), 1)
        assert _api._mode_in_kernels("wgrad", "direct", geo, np.dtype(dtype), 1)
        xd, wd, bd, gd = (a.astype(dtype) for a in (x, w, b, g))
        for t in (1, 2):
            np.testing.assert_array_equal(
                convx.conv2d(xd, wd, bd, padding_mode=mode, algorithm="direct", threads=t,
                             **kw), want)
            np.testing.assert_array_equal(
                convx.conv2d_weight(xd, ws, gd, padding_mode=mode, algorithm="direct",
                                    threads=t, **kw), want_w)


def test_padding_mode_in_the_kernels_makes_no_padded_copy():
    import tracemalloc
    rng = np.random.default_rng(51)
    x = rng.standard_normal((4, 16, 128, 128)).astype(np.float32)
    w = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    kw = dict(padding=1, groups=16, padding_mode="reflect", algorithm="direct", threads=1)
    y = convx.conv2d(x, w, **kw)
    tracemalloc.start()
    convx.conv2d(x, w, **kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # the output, the kernels' workspace (~1 MiB); a padded copy would add x.nbytes
    assert peak < y.nbytes + x.nbytes // 2, peak
    np.testing.assert_allclose(y, ref_conv(x, w, padding=1, groups=16, mode="reflect"),
                               rtol=0, atol=1e-4)


def test_padding_mode_glue_refuses_other_kernels():
    from convx import _conv
    x = np.ones(16, np.float32)
    w = np.ones(9, np.float32)
    y = np.empty(16, np.float32)
    geo = (1, 1, 4, 4, 1, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"only on the direct kernels"):
        _conv.conv2d_fwd(x, w, np.empty(0, np.float32), y, geo, False, "im2col", 1, 1)


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=range(len(TRANSPOSE_CASES)))
def test_conv_transpose_channels_last(case):
    """layout='NLC'/'NHWC'/'NDHWC' for transposed convolutions (TensorFlow's
    Conv2DTranspose works channels-last): the reference's numbers, moved."""
    xs, ws, kw = case
    nd = len(xs) - 2
    rng = np.random.default_rng(60)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    b = rng.integers(-3, 4, ws[1] * kw.get("groups", 1)).astype(np.float64)
    y = TRN[nd](_to_last(x), w, b, layout=LAST[nd], **kw)
    np.testing.assert_array_equal(_to_first(y), ref_conv_transpose(x, w, b, **kw))
    # unbatched
    y0 = TRN[nd](_to_last(x)[0], w, b, layout=LAST[nd], **kw)
    np.testing.assert_array_equal(y0, y[0])


def test_conv_transpose_channels_last_output_size():
    x = np.ones((1, 3, 3, 1))
    w = np.ones((1, 2, 3, 3))
    y = convx.conv_transpose2d(x, w, stride=2, output_size=(8, 7), layout="NHWC")
    assert y.shape == (1, 8, 7, 2)
    np.testing.assert_array_equal(
        _to_first(y), ref_conv_transpose(_to_first(x), w, stride=2, output_padding=(1, 0)))
    with pytest.raises(ValueError, match=r"layout must be one of \('NCHW', 'NHWC'\)"):
        convx.conv_transpose2d(x, w, layout="NLC")


# --------------------------------------------------------------------------- fused mode input gradient

FOLD_CASES = [
    # (input shape, weight shape, kwargs): the padded gradient made and folded per image
    ("depthwise", (3, 8, 9, 11), (8, 1, 3, 3), dict(padding=1, groups=8)),
    ("dense_pad2", (2, 3, 7, 6), (4, 3, 5, 5), dict(padding=2)),
    ("asym_dilated", (2, 4, 8, 9), (4, 2, 3, 2), dict(padding=((2, 1), (0, 3)), dilation=(1, 2),
                                                      groups=2)),
    # results over 8 MiB: streamed out, rows wider and narrower than a vector
    ("streamed_w21", (96, 32, 20, 21), (32, 1, 3, 3), dict(padding=1, groups=32)),
    ("streamed_w12", (128, 64, 12, 12), (64, 1, 3, 3), dict(padding=(2, 1), groups=64)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", FOLD_CASES, ids=[c[0] for c in FOLD_CASES])
def test_mode_input_gradient_fused_fold(mode, case):
    """conv2d_input with a padding mode on the direct kernels folds each
    band of padded gradient rows as it is made (_conv.conv2d_dgrad_fold): on
    integer data exactly the padded input's whole gradient folded by
    _conv.fold_pad2d (the same sums, in another order), on random floats
    within rounding; float32 and float64, 1 and 2 threads."""
    from convx import _api, _conv
    _, xs, ws, kw = case
    rng = np.random.default_rng(70)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    geo = _api._geometry(xs, ws, 1, kw["padding"], kw.get("dilation", 1), kw.get("groups", 1))
    (t, b), (l, r) = geo.padding
    psize = (xs[0], xs[1], xs[2] + t + b, xs[3] + l + r)
    g = rng.integers(-3, 4, geo.output_shape).astype(np.float64)
    pgeo = _api._geometry(psize, ws, 1, 0, kw.get("dilation", 1), kw.get("groups", 1))
    src_h = _padmode.source_index(xs[2], t, b, mode).astype(np.intp)
    src_w = _padmode.source_index(xs[3], l, r, mode).astype(np.intp)
    for dtype in (np.float32, np.float64):
        wd, gd = w.astype(dtype), g.astype(dtype)
        for threads in (1, 2):
            dxp = convx.conv2d_input(psize, wd, gd, padding=0, algorithm="direct",
                                     dilation=kw.get("dilation", 1), groups=kw.get("groups", 1),
                                     threads=threads)
            want = np.empty(xs, dtype)
            _conv.fold_pad2d(dxp.reshape(-1), want.reshape(-1),
                             (xs[0], xs[1], xs[2], xs[3], t, l, psize[2], psize[3]), src_h,
                             src_w, False, threads)
            fused = np.full(xs, np.nan, dtype)
            assert _conv.conv2d_dgrad_fold(wd.reshape(-1), gd.reshape(-1), fused.reshape(-1),
                                           pgeo.astuple(), (xs[2], xs[3], t, l, src_h, src_w),
                                           threads)
            np.testing.assert_array_equal(fused, want)
            got = convx.conv2d_input(xs, wd, gd, padding_mode=mode, algorithm="direct",
                                     threads=threads, **kw)
            np.testing.assert_array_equal(got, want)
    wr, gr = rng.standard_normal(ws), rng.standard_normal(geo.output_shape)
    got = convx.conv2d_input(xs, wr, gr, padding_mode=mode, algorithm="direct", **kw)
    dxp = convx.conv2d_input(psize, wr, gr, padding=0, algorithm="direct",
                             dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
    np.testing.assert_allclose(got, _padmode.fold(dxp, geo.padding, mode), rtol=1e-12,
                               atol=1e-12)
    if xs[0] * xs[1] * xs[2] * xs[3] < 10**5:
        np.testing.assert_array_equal(
            convx.conv2d_input(xs, w, g, padding_mode=mode, **kw),
            ref_conv_input(xs, w, g, mode=mode, **kw))


IN_PLACE_FOLDS = [
    # (input shape, padding): depthwise 3x3 whose stride-1 forward form has
    # an output over 8 MiB in float32 and rows of <= 64 pixels (its plan reads
    # grad_output in place); whole planes, and bands of rows (the ring pass)
    ((40, 32, 40, 40), 2),
    ((40, 32, 40, 40), ((2, 1), (1, 2))),
    ((8, 32, 200, 40), 1),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", IN_PLACE_FOLDS, ids=["pad2", "asym", "bands"])
def test_mode_input_gradient_fused_fold_in_place(mode, case, dev_flags):
    """The fused fold's depthwise 3x3 tiles read grad_output in place and
    write the thread's group buffer (no band): on random float32 data bit for
    bit the band path's result (CX_DEV_NO_INPLACE), and with whole planes bit
    for bit fold_pad2d of the padded gradient (the same sums in the same
    order); bands of rows within rounding of it; 1 and 2 threads."""
    from convx import _api, _conv
    xs, pad = case
    ws = (xs[1], 1, 3, 3)
    rng = np.random.default_rng(71)
    w = rng.standard_normal(ws).astype(np.float32)
    geo = _api._geometry(xs, ws, 1, pad, 1, xs[1])
    (t, b), (l, r) = geo.padding
    psize = (xs[0], xs[1], xs[2] + t + b, xs[3] + l + r)
    g = rng.standard_normal(geo.output_shape).astype(np.float32)
    pgeo = _api._geometry(psize, ws, 1, 0, 1, xs[1])
    N, C, Hp, Wp = psize
    P, Q = geo.output_shape[2:]
    form = (N, C, P, Q, C, 3, 3, Hp, Wp, 1, 1, 1, 1, 2, 2, C)   # the forward form
    info = _conv.plan_info(form, "fwd", "direct", np.float32)
    assert info["in_place"] == (_conv.active_isa() == "avx512"), info
    whole = info["ntiles"] == 1
    assert whole == (xs[2] == 40)
    src_h = _padmode.source_index(xs[2], t, b, mode).astype(np.intp)
    src_w = _padmode.source_index(xs[3], l, r, mode).astype(np.intp)
    dxp = convx.conv2d_input(psize, w, g, padding=0, algorithm="direct", groups=xs[1])
    want = np.empty(xs, np.float32)
    _conv.fold_pad2d(dxp.reshape(-1), want.reshape(-1),
                     (xs[0], xs[1], xs[2], xs[3], t, l, Hp, Wp), src_h, src_w, False, 1)
    for threads in (1, 2):
        got = {}
        for flags in (0, 1024):
            dev_flags(flags)
            got[flags] = np.full(xs, np.nan, np.float32)
            assert _conv.conv2d_dgrad_fold(w.reshape(-1), g.reshape(-1), got[flags].reshape(-1),
                                           pgeo.astuple(), (xs[2], xs[3], t, l, src_h, src_w),
                                           threads)
        dev_flags(0)
        np.testing.assert_array_equal(got[0], got[1024])
        if whole:
            np.testing.assert_array_equal(got[0], want)
        else:
            np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
    # (the public call: whichever mode path it takes, the same gradient)
    np.testing.assert_allclose(
        convx.conv2d_input(xs, w, g, padding=pad, groups=xs[1], padding_mode=mode,
                           algorithm="direct"), want, rtol=1e-5, atol=1e-5)


def test_mode_input_gradient_fused_fold_refusals():
    """conv2d_dgrad_fold writes nothing and says so where it does not apply
    (a non-finite weight; row bands), and rejects inconsistent fold tables."""
    from convx import _conv
    src = np.array([1, 0, 1, 2, 3, 2], np.intp)             # reflect, 4 + 1 + 1
    dy = np.ones(2 * 4 * 4, np.float32)
    dx = np.full(2 * 4 * 4, 7.0, np.float32)
    geo = (1, 2, 6, 6, 2, 3, 3, 4, 4, 1, 1, 1, 1, 0, 0, 1)
    w = np.ones(2 * 2 * 9, np.float32)
    w[3] = np.inf
    assert not _conv.conv2d_dgrad_fold(w, dy, dx, geo, (4, 4, 1, 1, src, src), 1)
    assert (dx == 7).all()
    w[3] = 1
    with pytest.raises(ValueError, match="src_h"):
        _conv.conv2d_dgrad_fold(w, dy, dx, geo, (4, 4, 1, 1, src + 3, src), 1)
    with pytest.raises(ValueError, match="inconsistent"):
        _conv.conv2d_dgrad_fold(w, dy, dx[:-1], geo, (4, 4, 1, 1, src, src), 1)
    assert _conv.conv2d_dgrad_fold(w, dy, dx, geo, (4, 4, 1, 1, src, src), 1)
    assert (dx != 7).all()



def _mode_geometry(xs, ws, kw, mode):
    """The stride-1 geometry of a mode case; skipped where the mode cannot pad
    it (an error the API reports, tested elsewhere)."""
    from convx import _api
    geo = _api._geometry(xs, ws, 1, kw["padding"], kw.get("dilation", 1), kw.get("groups", 1))
    try:
        _api._padded_geometry(geo, mode, "input_size")
    except ValueError:
        pytest.skip(f"{mode} cannot pad {xs} by {geo.padding} (an error the API reports)")
    return geo


def _count_calls(monkeypatch, name):
    """The geometries passed to _conv.<name>, which still runs, in a list."""
    from convx import _conv
    calls = []
    real = getattr(_conv, name)

    def counted(*a):
        calls.append(a[3])
        return real(*a)
    monkeypatch.setattr(_conv, name, counted)
    return calls


RING_CASES = [
    # (input shape, weight shape, kwargs): one input channel a group, stride 1
    ("depthwise", (3, 8, 9, 11), (8, 1, 3, 3), dict(padding=1, groups=8)),
    ("row_bands", (2, 3, 120, 40), (3, 1, 3, 3), dict(padding=1, groups=3)),   # 6 bands
    ("asym_dilated", (2, 4, 12, 9), (4, 1, 3, 3), dict(padding=((2, 1), (0, 3)),
                                                       dilation=(2, 1), groups=4)),
    ("pad_beyond_kernel", (1, 2, 9, 8), (2, 1, 2, 3), dict(padding=(3, 4), groups=2)),
    ("narrow_5x5", (2, 5, 7, 3), (5, 1, 5, 5), dict(padding=2, groups=5)),
    ("multiplier_2", (2, 6, 7, 10), (12, 1, 3, 5), dict(padding=(2, 1), groups=6)),
    ("two_channels_a_group", (2, 4, 8, 9), (4, 2, 3, 3), dict(padding=1, groups=2)),
    ("streamed_w21", (96, 32, 20, 21), (32, 1, 3, 3), dict(padding=1, groups=32)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", RING_CASES, ids=[c[0] for c in RING_CASES])
def test_mode_input_gradient_ring(mode, case, monkeypatch):
    """_conv.conv2d_dgrad_ring (the zeros-padding input gradient written into
    dx, each padded position's restricted-tap gradient added where it was
    copied from): on integer data exactly the padded input's whole gradient
    folded, float32 and float64, 1 to 3 threads; on random floats the same
    bits for every thread count and within rounding of the fold. conv2d_input
    takes it for depthwise layers (multiplier 1) only, but a circulant 3x3
    one's circular padding (the circular forward)."""
    from convx import _api, _conv
    _, xs, ws, kw = case
    geo = _mode_geometry(xs, ws, kw, mode)
    (t, b), (l, r) = geo.padding
    psize = (xs[0], xs[1], xs[2] + t + b, xs[3] + l + r)
    fold = _api._fold_tables(geo, mode)
    rng = np.random.default_rng(74)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    g = rng.integers(-3, 4, geo.output_shape).astype(np.float64)
    groups, dil = kw.get("groups", 1), kw.get("dilation", 1)
    want = _padmode.fold(convx.conv2d_input(psize, w, g, padding=0, dilation=dil,
                                            groups=groups), geo.padding, mode)
    (N, C, H, W, K, R, S, P, Q, _, _, dh, dw, pt, pl, G) = geo.astuple()
    as_forward = (N, K, P, Q, C, R, S, H, W, 1, 1, dh, dw, (R - 1) * dh - pt, (S - 1) * dw - pl,
                  G)

    def streams(dtype):
        """Whether the zeros gradient's forward form streams its output past
        the caches: the ring then refuses, writing nothing (its adds would
        read dx back from memory; the fused fold, which streams, ran 1.07x
        (1 thread) to 1.37x faster on AVX-512's depthwise bench layer)."""
        return _conv.plan_info(as_forward, "fwd", "direct", dtype)["dk_stream"]

    for dtype in (np.float32, np.float64):
        for threads in (1, 2, 3):
            dx = np.full(xs, np.nan, dtype)
            ok = _conv.conv2d_dgrad_ring(w.astype(dtype).reshape(-1),
                                         g.astype(dtype).reshape(-1), dx.reshape(-1),
                                         geo.astuple(), fold, threads)
            if streams(dtype):
                assert not ok and np.isnan(dx).all()
                continue
            assert ok
            np.testing.assert_array_equal(dx, want)
    if not streams(np.float64):
        wr, gr = rng.standard_normal(ws), rng.standard_normal(geo.output_shape)
        runs = []
        for threads in (1, 2, 3):
            runs.append(np.empty(xs))
            assert _conv.conv2d_dgrad_ring(wr.reshape(-1), gr.reshape(-1),
                                           runs[-1].reshape(-1), geo.astuple(), fold, threads)
            np.testing.assert_array_equal(runs[-1], runs[0])
        dxp = convx.conv2d_input(psize, wr, gr, padding=0, dilation=dil, groups=groups)
        np.testing.assert_allclose(runs[0], _padmode.fold(dxp, geo.padding, mode),
                                   rtol=1e-12, atol=1e-12)
    calls = _count_calls(monkeypatch, "conv2d_dgrad_ring")
    for _ in range(2):          # (the second call: conv2d_input's remembered path)
        got = convx.conv2d_input(xs, w, g, padding_mode=mode, **kw)
        np.testing.assert_array_equal(got, want)
    depthwise = ws[0] == xs[1] == groups
    # (circular padding of a depthwise 3x3 layer whose output has the input's
    # size and whose circular forward pads in registers: that forward instead,
    # _api._input_circular)
    circulant = (mode == "circular" and ws[2:] == (3, 3) and dil == 1 and
                 (t + b, l + r) == (2, 2) and _conv.regpad_forward(
                     _api._geometry(geo.output_shape, ws, 1, ((b, t), (r, l)), 1,
                                    groups).astuple(), np.float64, 3))
    # (a refusal is remembered: the second call goes straight to the fold)
    assert len(calls) == (0 if not depthwise or circulant else 1 if streams(np.float64) else 2)


def test_mode_input_gradient_ring_refusals():
    """conv2d_dgrad_ring writes nothing and says so for a non-finite weight
    (conv2d_input then takes another form and still agrees with the fold)
    or a stride of 2, and rejects inconsistent sizes."""
    from convx import _api, _conv
    xs, ws, kw = (2, 4, 6, 7), (4, 1, 3, 3), dict(padding=1, groups=4)
    geo = _api._geometry(xs, ws, 1, 1, 1, 4)
    fold = _api._fold_tables(geo, "reflect")
    w = np.ones(ws, np.float32)
    w[1, 0, 0, 2] = np.inf
    dy = np.ones(geo.output_shape, np.float32)
    dx = np.full(xs, 7.0, np.float32)
    assert not _conv.conv2d_dgrad_ring(w.reshape(-1), dy.reshape(-1), dx.reshape(-1),
                                       geo.astuple(), fold, 1)
    assert (dx == 7).all()
    got = convx.conv2d_input(xs, w, dy, padding_mode="reflect", **kw)
    dxp = convx.conv2d_input((2, 4, 8, 9), w, dy, padding=0, groups=4)
    np.testing.assert_array_equal(got, _padmode.fold(dxp, geo.padding, "reflect"))
    w[1, 0, 0, 2] = 1
    with pytest.raises(ValueError, match="inconsistent"):
        _conv.conv2d_dgrad_ring(w.reshape(-1), dy.reshape(-1), dx.reshape(-1)[:-1],
                                geo.astuple(), fold, 1)
    with pytest.raises(ValueError, match="inconsistent"):
        _conv.conv2d_dgrad_ring(w.reshape(-1), dy.reshape(-1), dx.reshape(-1), geo.astuple(),
                                _api._fold_tables(_api._geometry(xs, ws, 1, 2, 1, 4),
                                                  "reflect"), 1)
    g2 = _api._geometry(xs, ws, 2, 1, 1, 4)
    assert not _conv.conv2d_dgrad_ring(w.reshape(-1),
                                       np.ones(g2.output_shape, np.float32).reshape(-1),
                                       dx.reshape(-1), g2.astuple(), fold, 1)
    assert (dx == 7).all()



NO_TAPFOLD = 536870912      # CX_DEV_NO_TAPFOLD
TAPFOLD_CASES = [
    # (input shape, padding, whether the folded taps run: AVX-512, float32;
    # streamed outputs of over 8 MiB, rows of at most 4 vectors): the bench
    # layer (4 vectors, the folded columns in the first and last: the
    # specialised tiles), one vector holding both (17 rows: a last tile of
    # one), two vectors; 33 columns put the right fold in a middle vector (the
    # fused fold instead); one-sided padding (the general tiles)
    ((8, 128, 56, 56), 1, True),
    ((128, 64, 17, 16), 1, True),
    ((160, 32, 20, 30), 1, True),
    ((64, 32, 33, 33), 1, False),
    ((160, 32, 21, 30), ((1, 0), (0, 1)), True),
    # 17 columns in two vectors: reflect's right fold (column 15) on the
    # first, replicate's (16) on the second
    ((128, 64, 16, 17), 1, True),
]


def _tapfold_reference(xs, w, g, pad, mode):
    """The padded input's whole gradient (float64), folded."""
    from convx import _api
    geo = _api._geometry(xs, w.shape, 1, pad, 1, xs[1])
    (t, b), (l, r) = geo.padding
    psize = (xs[0], xs[1], xs[2] + t + b, xs[3] + l + r)
    dxp = convx.conv2d_input(psize, w.astype(np.float64), g.astype(np.float64), padding=0,
                             groups=xs[1])
    return _padmode.fold(dxp, geo.padding, mode)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("case", TAPFOLD_CASES, ids=["bench", "one_vector", "two_vectors",
                                                     "middle_vector", "one_sided",
                                                     "right_fold_first_vector"])
def test_mode_input_gradient_folds_onto_depthwise_taps(mode, case, dev_flags):
    """A reflect or replicate padding's depthwise 3x3 input gradient whose
    zeros-padding form streams its output: the padded positions' products
    added onto the in-place tiles' taps (conv2d_dgrad_ring with the plan's
    dk_tapfold) rather than the fused fold's padded buffer. Integer data:
    exactly the folded padded gradient, float32 and float64; random float32:
    within rounding of it, and (where the fold runs) not bit for bit
    CX_DEV_NO_TAPFOLD's fused fold, i.e. the folded tiles ran; 1 and 2
    threads, the second call by conv2d_input's remembered path."""
    from convx import _api, _conv
    xs, pad, folds = case
    ws = (xs[1], 1, 3, 3)
    rng = np.random.default_rng(81)
    g_shape = _api._geometry(xs, ws, 1, pad, 1, xs[1]).output_shape
    wi = rng.integers(-3, 4, ws)
    gi = rng.integers(-3, 4, g_shape)
    want = _tapfold_reference(xs, wi, gi, pad, mode)
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            for _ in range(2):
                got = convx.conv2d_input(xs, wi.astype(dtype), gi.astype(dtype), padding=pad,
                                         groups=xs[1], padding_mode=mode, threads=threads)
                np.testing.assert_array_equal(got, want)
    w = rng.standard_normal(ws).astype(np.float32)
    g = rng.standard_normal(g_shape).astype(np.float32)
    want = _tapfold_reference(xs, w, g, pad, mode)
    for threads in (1, 2):
        got = {}
        for flags in (NO_TAPFOLD, 0):
            dev_flags(flags)
            _api._FAST_DGRAD.clear()    # (a call's remembered path: the flag's)
            got[flags] = convx.conv2d_input(xs, w, g, padding=pad, groups=xs[1],
                                            padding_mode=mode, threads=threads)
            np.testing.assert_allclose(got[flags], want, rtol=2e-5, atol=2e-5)
        dev_flags(0)
        ran = not np.array_equal(got[0], got[NO_TAPFOLD])
        assert ran == (folds and _conv.active_isa() == "avx512"), (threads, ran)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_mode_input_gradient_depthwise_taps_keep_nonfinite(mode, dev_flags):
    """The folded taps' (w_a + w_b) * v is not w_a * v + w_b * v for an infinite
    v (taps of mixed signs: inf, not NaN), nor where w_a + w_b passes the
    type's range: an item whose folded outputs are not finite, or whose
    channel's taps are that large, is made again unfolded (the ring form), so
    the result has the padded gradient's inf and NaN pattern and its values
    (float32, the layer's first, last and middle channels and images)."""
    from convx import _api
    xs = (8, 128, 56, 56)
    ws = (xs[1], 1, 3, 3)
    rng = np.random.default_rng(82)
    w = rng.standard_normal(ws).astype(np.float32)
    w[:, 0, 0, 0], w[:, 0, 0, 2] = 1.0, -1.0      # (mixed signs on the folded taps)
    w[:, 0, 2, 0], w[:, 0, 2, 2] = -2.0, 3.0
    g = rng.standard_normal(xs).astype(np.float32)
    spots = [(0, 0, 0, 0), (0, 0, 0, 30), (7, 127, 55, 55), (3, 64, 27, 0), (3, 65, 20, 20),
             (5, 9, 55, 17), (1, 2, 1, 1), (2, 3, 54, 54)]
    for i, spot in enumerate(spots):
        g[spot] = (np.inf, -np.inf, np.nan)[i % 3]
    big = w.copy()
    big[40] = 5e37      # (taps over FLT_MAX / 16: the item made unfolded)
    g[:, 40] *= 1e-3    # (their products still finite)
    for weight in (w, big):
        with np.errstate(invalid="ignore"):      # (inf - inf in the fold: NaN, as wanted)
            want = _tapfold_reference(xs, weight, g, 1, mode)
        for threads in (1, 2):
            got = convx.conv2d_input(xs, weight, g, padding=1, groups=xs[1], padding_mode=mode,
                                     threads=threads)
            dev_flags(NO_TAPFOLD)
            _api._FAST_DGRAD.clear()
            old = convx.conv2d_input(xs, weight, g, padding=1, groups=xs[1],
                                     padding_mode=mode, threads=threads)
            dev_flags(0)
            ref = want
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(old))
            finite = np.isfinite(ref)
            # (channel 40 of the large taps: rounding of its own magnitude)
            scale = np.maximum(np.abs(np.where(finite, ref, 0)), 1.0)
            scale[:, 40] = np.abs(np.where(finite, ref, 0)[:, 40]).max()
            with np.errstate(invalid="ignore"):
                err = np.abs(got - ref)
            assert (err[finite] <= 1e-5 * scale[finite]).all()



@pytest.mark.parametrize("mode", MODES)
def test_mode_forward_of_a_streamed_depthwise_layer(mode):
    """A padding mode's depthwise 3x3 forward whose output streams past the
    caches (over 8 MiB): its plan, made for zero padding, has the in-place
    tiles, which read zeros outside the image; under a mode the band form must
    run (until session 31 the in-place tiles did: zero padding's border, 7% of
    the outputs wrong, on layers the other tests were too small to stream).
    Against the forward of the numpy-padded input, float32, 1 and 2 threads."""
    from convx import _conv
    xs = (8, 128, 56, 56)
    rng = np.random.default_rng(83)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((xs[1], 1, 3, 3)).astype(np.float32)
    form = (8, 128, 56, 56, 128, 3, 3, 56, 56, 1, 1, 1, 1, 1, 1, 128)
    info = _conv.plan_info(form, "fwd", "direct", np.float32)
    # (the layer the in-place tiles take under zero padding: AVX-512's)
    assert info["in_place"] == (_conv.active_isa() == "avx512"), info
    npmode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    want = convx.conv2d(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode=npmode), w,
                        groups=xs[1])
    for threads in (1, 2):
        got = convx.conv2d(x, w, padding=1, groups=xs[1], padding_mode=mode, threads=threads)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)



NO_REGPAD = 1073741824      # CX_DEV_NO_REGPAD
REGPAD_CASES = [
    # (input shape, padding, whether the in-place tiles pad in registers:
    # AVX-512, float32, streamed outputs of over 8 MiB): the bench layer
    # (rows of 4 vectors, column W in the last), one vector (17 rows: a last
    # tile of one row), two vectors (column W in the third: the last loaded
    # vector), 33 columns (column W in a middle vector of the row's 4: the
    # band), one-sided padding, padding 2 (the band)
    ((8, 128, 56, 56), 1, True),
    ((128, 64, 17, 16), 1, True),
    ((160, 32, 20, 31), 1, True),
    ((64, 32, 33, 33), 1, False),
    ((160, 32, 21, 30), ((1, 0), (0, 1)), True),
    ((64, 64, 18, 28), 2, False),
]


def _padded_forward(x, w, pad, mode):
    """The forward of the numpy-padded input (zero padding's kernels)."""
    from convx import _api
    geo = _api._geometry(x.shape, w.shape, 1, pad, 1, x.shape[1])
    npmode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(geo.padding), mode=npmode)
    return convx.conv2d(xp, w, groups=x.shape[1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", REGPAD_CASES, ids=["bench", "one_vector", "two_vectors",
                                                    "three_vectors", "one_sided", "pad2"])
def test_mode_forward_pads_depthwise_tiles_in_registers(mode, case, dev_flags):
    """A padding mode's depthwise 3x3 forward whose output streams: the
    in-place tiles read the rows the mode copies and put the padded columns'
    values in their loads' lanes (cx_dk_padx) rather than the band the mode
    fills. Integer data: exactly the numpy-padded input's forward, float32
    and float64, 1 and 2 threads; random float32 with inf and NaN on the
    edges: bit for bit CX_DEV_NO_REGPAD's band (the same products in the same
    order) and within rounding of the padded forward; the plan's
    register_padding (conv2d_regpad, which the forward asks) as expected."""
    from convx import _api, _conv
    xs, pad, regpad = case
    geo = _api._geometry(xs, (xs[1], 1, 3, 3), 1, pad, 1, xs[1])
    code = {"reflect": 1, "replicate": 2, "circular": 3}[mode]
    info = _conv.plan_info(geo.astuple(), "fwd", "direct", np.float32, code)
    assert info["register_padding"] == (regpad and _conv.active_isa() == "avx512"), info
    ws = (xs[1], 1, 3, 3)
    rng = np.random.default_rng(84)
    xi = rng.integers(-3, 4, xs)
    wi = rng.integers(-3, 4, ws)
    bi = rng.integers(-3, 4, xs[1])
    want = _padded_forward(xi.astype(np.float64), wi.astype(np.float64), pad, mode) + \
        bi[:, None, None]
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            got = convx.conv2d(xi.astype(dtype), wi.astype(dtype), bi.astype(dtype),
                               padding=pad, groups=xs[1], padding_mode=mode, threads=threads)
            np.testing.assert_array_equal(got, want)
    x = rng.standard_normal(xs).astype(np.float32)
    H, W = xs[2:]
    spots = [(0, 0, 0, 0), (0, 1, 0, W // 2), (xs[0] - 1, xs[1] - 1, H - 1, W - 1),
             (1, 2, H // 2, 0), (1, 3, H - 1, 1), (2, 4, 1, W - 1)]
    for i, spot in enumerate(spots):
        x[spot] = (np.inf, -np.inf, np.nan)[i % 3]
    w = rng.standard_normal(ws).astype(np.float32)
    with np.errstate(invalid="ignore"):
        want = _padded_forward(x.astype(np.float64), w.astype(np.float64), pad, mode)
    for threads in (1, 2):
        got = {}
        for flags in (NO_REGPAD, 0):
            dev_flags(flags)
            got[flags] = convx.conv2d(x, w, padding=pad, groups=xs[1], padding_mode=mode,
                                      threads=threads)
        dev_flags(0)
        np.testing.assert_array_equal(got[0], got[NO_REGPAD])
        np.testing.assert_array_equal(np.isnan(got[0]), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got[0]), np.isinf(want))
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[0][finite], want[finite], rtol=2e-5, atol=2e-5)


CIRCULAR_CASES = [
    # (input shape, weight shape, kwargs): circular padding whose output has the
    # input's size (stride 1, top + bottom = dilation * (R - 1)): the input
    # gradient as the circular forward of grad_output; groups of >= 8 channels
    ("lenet2_like", (2, 8, 14, 14), (16, 8, 5, 5), dict(padding=2), True),
    ("asym_groups", (2, 16, 9, 11), (4, 8, 3, 3), dict(padding=((1, 1), (0, 2)), groups=2),
     True),
    ("dilated_even", (1, 8, 10, 12), (3, 8, 3, 2), dict(padding=((2, 2), (1, 0)),
                                                       dilation=(2, 1)), True),
    ("unbatched", (8, 7, 6), (5, 8, 4, 2), dict(padding=((1, 2), (1, 0))), True),
    # depthwise 3x3 whose circular forward streams (outputs over 8 MiB) on the
    # in-place tiles padding in registers (AVX-512; session 32)
    ("depthwise_streamed", (128, 64, 17, 16), (64, 1, 3, 3), dict(padding=1, groups=64),
     "regpad"),
    # not taken: output larger than the input, a stride, thin groups (other
    # than those depthwise layers: a small one's circular forward fills a band)
    ("pad_beyond_same", (1, 8, 6, 7), (2, 8, 3, 3), dict(padding=2), False),
    ("strided", (1, 8, 9, 9), (2, 8, 3, 3), dict(padding=1, stride=2), False),
    ("depthwise", (2, 4, 9, 10), (4, 1, 3, 3), dict(padding=1, groups=4), False),
    ("depthwise5", (2, 4, 9, 10), (4, 1, 5, 5), dict(padding=2, groups=4), False),
    ("multiplier", (2, 4, 9, 10), (8, 1, 3, 3), dict(padding=1, groups=4), False),
]


@pytest.mark.parametrize("case", CIRCULAR_CASES, ids=[c[0] for c in CIRCULAR_CASES])
def test_mode_input_gradient_circular_as_forward(case, monkeypatch):
    """conv2d_input under circular padding where the forward is circulant:
    the circular forward of grad_output with the flipped, transposed weight
    (_api._input_circular), which must run there and only there. Integer
    data: exactly the reference (the padded gradient folded), float32 and
    float64, 1 and 2 threads; random reals within rounding; a non-finite
    grad_output value's inf / NaN pattern as the reference's."""
    from convx import _api
    _, xs, ws, kw, taken = case
    rng = np.random.default_rng(84)
    ran = []
    real = _api._input_circular
    monkeypatch.setattr(_api, "_input_circular",
                        lambda *a, **k: ran.append(real(*a, **k)) or ran[-1])
    batched = xs if len(xs) == 4 else (1,) + xs
    geo = _api._geometry(batched, ws, kw.get("stride", 1), kw["padding"],
                         kw.get("dilation", 1), kw.get("groups", 1))
    gshape = geo.output_shape if len(xs) == 4 else geo.output_shape[1:]
    w = rng.integers(-3, 4, ws).astype(np.float64)
    g = rng.integers(-3, 4, gshape).astype(np.float64)
    ref = ref_conv_input(batched, w, g.reshape(geo.output_shape), mode="circular", **kw)
    ref = ref.reshape(xs)
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            got = convx.conv2d_input(xs, w.astype(dtype), g.astype(dtype),
                                     padding_mode="circular", threads=threads, **kw)
            assert got.dtype == dtype and got.shape == xs
            np.testing.assert_array_equal(got, ref)
    if taken == "regpad":   # (the streamed in-place tiles: AVX-512 builds)
        from convx import _conv
        taken = _conv.active_isa() == "avx512"
    assert any(r is not None for r in ran) == taken
    wr, gr = rng.standard_normal(ws), rng.standard_normal(gshape)
    gr.reshape(-1)[[0, gr.size // 2, -1]] = (np.inf, np.nan, -np.inf)
    with np.errstate(invalid="ignore"):
        ref = ref_conv_input(batched, wr, gr.reshape(geo.output_shape), mode="circular",
                             **kw).reshape(xs)
    got = convx.conv2d_input(xs, wr, gr, padding_mode="circular", **kw)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-12, atol=1e-12)


BORDER_CASES = [
    # (input shape, weight shape, kwargs): C / groups >= 8, stride 1: the
    # zeros-padding input gradient plus the border's restricted-tap gradient
    ("lenet2_like", (2, 8, 14, 14), (16, 8, 5, 5), dict(padding=2)),
    ("c16_line_of_one_vector", (2, 32, 14, 16), (24, 32, 3, 3), dict(padding=1)),
    ("c13_tile_remainders", (1, 13, 9, 40), (6, 13, 3, 5), dict(padding=(1, 2))),
    ("asym_dilated_groups", (2, 24, 8, 9), (6, 8, 3, 2),
     dict(padding=((2, 1), (0, 3)), dilation=(1, 2), groups=3)),
    ("pad_beyond_kernel", (1, 8, 5, 6), (3, 8, 2, 2), dict(padding=(4, 5))),
    ("one_pixel", (2, 9, 1, 1), (4, 9, 3, 3), dict(padding=1)),
    ("kernel_beyond_rows", (1, 70, 3, 20), (5, 70, 5, 1), dict(padding=(2, 0))),
    ("same_even", (1, 8, 6, 7), (2, 8, 4, 2), dict(padding="same")),
    # items of 2 and 4 images (and what is left of them), channel blocks of 16 + 2
    ("five_images", (5, 8, 6, 7), (4, 8, 3, 3), dict(padding=1)),
    ("six_images_c18", (6, 18, 5, 19), (3, 18, 3, 3), dict(padding=(1, 2))),
    # the pinwheel's lines (each with one corner; padded rows crossing a
    # vector the input's rows do not): wide rows, asymmetric, dilated
    ("pinwheel_wide_rows", (2, 8, 7, 30), (4, 8, 5, 5), dict(padding=2)),
    ("pinwheel_asym", (1, 9, 10, 13), (5, 9, 4, 5), dict(padding=((2, 1), (3, 1)))),
    ("pinwheel_dilated", (2, 8, 9, 12), (3, 8, 3, 3), dict(padding=3, dilation=3)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", BORDER_CASES, ids=[c[0] for c in BORDER_CASES])
def test_mode_input_gradient_border(mode, case, monkeypatch):
    """conv2d_input under a padding mode with C / groups >= 8 (NCHW, stride 1):
    the zeros-padding input gradient plus the border's gradient made from the
    taps that reach grad_output (_conv.conv2d_dgrad_border, which must run):
    on integer data exactly the reference, float32 and float64, 1 and 2
    threads, both explicit algorithms underneath, batched and unbatched; on
    random floats the padded input's whole gradient folded, within rounding."""
    from convx import _api
    _, xs, ws, kw = case
    geo = _mode_geometry(xs, ws, kw, mode)
    calls = _count_calls(monkeypatch, "conv2d_dgrad_border")
    # (circular padding of a circulant layer goes to its forward form,
    # test_mode_input_gradient_circular_as_forward: here the border's)
    monkeypatch.setattr(_api, "_input_circular", lambda *a, **k: None)
    rng = np.random.default_rng(71)
    w = rng.integers(-3, 4, ws).astype(np.float64)
    g = rng.integers(-3, 4, geo.output_shape).astype(np.float64)
    want = ref_conv_input(xs, w, g, mode=mode, **dict(kw, padding=geo.padding))
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            for algorithm in ("direct", "im2col"):
                got = convx.conv2d_input(xs, w.astype(dtype), g.astype(dtype),
                                         padding_mode=mode, threads=threads,
                                         algorithm=algorithm, **kw)
                assert got.dtype == dtype
                np.testing.assert_array_equal(got, want)
        one = convx.conv2d_input(xs[1:], w.astype(dtype), g[0].astype(dtype),
                                 padding_mode=mode, **kw)
        np.testing.assert_array_equal(one, want[0])
    assert len(calls) == 10
    (t, b), (l, r) = geo.padding
    psize = (xs[0], xs[1], xs[2] + t + b, xs[3] + l + r)
    wr, gr = rng.standard_normal(ws), rng.standard_normal(geo.output_shape)
    got = convx.conv2d_input(xs, wr, gr, padding_mode=mode, **kw)
    dxp = convx.conv2d_input(psize, wr, gr, padding=0, dilation=kw.get("dilation", 1),
                             groups=kw.get("groups", 1))
    np.testing.assert_allclose(got, _padmode.fold(dxp, geo.padding, mode), rtol=1e-12,
                               atol=1e-12)



@pytest.mark.parametrize("mode", MODES)
def test_dgrad_border_thin_groups_and_image_blocks(mode):
    """_conv.conv2d_dgrad_border on layers thinner than conv2d_input sends it
    (1 to 3 channels per group: the 1- and 4-channel tiles with 1, 2 and 4
    images), 7 images, 1 to 3 threads (items of 4, 2 and 1 images): the
    zeros-padding input gradient plus the border is exactly the padded input's
    whole gradient folded (integer data), float32 and float64."""
    from convx import _api, _conv
    rng = np.random.default_rng(73)
    for xs, ws, pad, groups in (((7, 1, 6, 20), (3, 1, 3, 3), 1, 1),
                                ((7, 6, 5, 9), (6, 2, 5, 3), (2, 1), 3),
                                ((7, 3, 4, 40), (2, 3, 2, 4), ((1, 1), (3, 2)), 1)):
        geo = _api._geometry(xs, ws, 1, pad, 1, groups)
        (t, b), (l, r) = geo.padding
        w = rng.integers(-3, 4, ws).astype(np.float64)
        g = rng.integers(-3, 4, geo.output_shape).astype(np.float64)
        psize = (xs[0], xs[1], xs[2] + t + b, xs[3] + l + r)
        dxp = convx.conv2d_input(psize, w, g, padding=0, groups=groups)
        want = _padmode.fold(dxp, geo.padding, mode)
        for dtype in (np.float32, np.float64):
            for threads in (1, 2, 3):
                dx = convx.conv2d_input(xs, w.astype(dtype), g.astype(dtype), padding=pad,
                                        groups=groups)
                _conv.conv2d_dgrad_border(w.astype(dtype).reshape(-1),
                                          g.astype(dtype).reshape(-1), dx.reshape(-1),
                                          geo.astuple(), _api._fold_tables(geo, mode), threads)
                np.testing.assert_array_equal(dx, want)

def test_mode_input_gradient_border_nonfinite_and_refusals():
    """With inf / nan in grad_output, the border path agrees with the padded
    input's whole gradient folded; with inf in the weight too (whose products
    with the zeros past grad_output's edges the border's tiles would form),
    the fused fold runs instead. conv2d_dgrad_border rejects inconsistent
    arguments without writing."""
    from convx import _api, _conv
    xs, ws = (2, 8, 6, 7), (4, 8, 3, 3)
    rng = np.random.default_rng(72)
    w = rng.standard_normal(ws)
    g = rng.standard_normal((2, 4, 6, 7))
    g[0, 3, 0, 4] = np.nan
    g[1, 0, 5, 0] = -np.inf
    for winf in (False, True):
        w[1, 2, 0, 1] = np.inf if winf else w[1, 2, 0, 0]
        for mode in MODES:
            got = convx.conv2d_input(xs, w, g, padding=1, padding_mode=mode)
            dxp = convx.conv2d_input((2, 8, 8, 9), w, g, padding=0)
            with np.errstate(invalid="ignore"):
                want = _padmode.fold(dxp, ((1, 1), (1, 1)), mode)
            assert np.isnan(want).any() and np.isinf(want).any()
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)   # nan, inf too
    geo = _api._geometry(xs, ws, 1, 1, 1, 1)
    fold = _api._fold_tables(geo, "reflect")
    dx = np.full(2 * 8 * 6 * 7, 7.0)
    with pytest.raises(ValueError, match="inconsistent"):
        _conv.conv2d_dgrad_border(w.reshape(-1), g.reshape(-1), dx[:-1], geo.astuple(), fold, 1)
    with pytest.raises(ValueError, match="inconsistent"):
        _conv.conv2d_dgrad_border(w.reshape(-1)[1:], g.reshape(-1), dx, geo.astuple(), fold, 1)
    with pytest.raises(ValueError, match="src_w"):
        _conv.conv2d_dgrad_border(w.reshape(-1), g.reshape(-1), dx, geo.astuple(),
                                  fold[:5] + (fold[5] + 7,), 1)
    strided = _api._geometry(xs, ws, 2, 1, 1, 1).astuple()
    with pytest.raises(ValueError, match="stride 1"):
        _conv.conv2d_dgrad_border(w.reshape(-1), g.reshape(-1), dx, strided, fold, 1)
    assert (dx == 7).all()
    # the weight is checked as the border reorders it: any one inf or nan (the
    # first and last element, a tail block of channels, the last 16 output
    # channels) returns False having written nothing; a finite one True
    geo = _api._geometry((1, 18, 5, 6), (20, 18, 3, 3), 1, 1, 1, 1)
    fold = _api._fold_tables(geo, "circular")
    for dtype in (np.float32, np.float64):
        g = np.ones(20 * 5 * 6, dtype)
        for idx, bad in (((19, 17, 2, 2), np.nan), ((0, 0, 0, 0), -np.inf),
                         ((17, 16, 1, 0), np.inf), ((3, 5, 0, 2), np.nan)):
            w = np.ones((20, 18, 3, 3), dtype)
            w[idx] = bad
            for threads in (1, 2):
                dx = np.full(18 * 5 * 6, 7.0, dtype)
                assert _conv.conv2d_dgrad_border(w.reshape(-1), g, dx, geo.astuple(), fold,
                                                 threads) is False
                assert (dx == 7).all()
        dx = np.zeros(18 * 5 * 6, dtype)
        assert _conv.conv2d_dgrad_border(np.ones(20 * 18 * 9, dtype), g, dx, geo.astuple(),
                                         fold, 2) is True
        assert dx.any()

NHWC_FOLD_CASES = [
    ("dw16", (2, 16, 9, 11), dict(padding=1)),
    ("dw64_asym", (3, 64, 12, 13), dict(padding=((2, 1), (0, 2)))),
    ("dw256_channel_blocks", (1, 256, 6, 7), dict(padding=2)),          # items split channels
    ("dw5x5_dilated", (2, 32, 10, 9), dict(padding=(2, 3), dilation=(1, 2))),
    ("streamed", (96, 32, 20, 21), dict(padding=1)),                    # > 8 MiB in float64
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", NHWC_FOLD_CASES, ids=[c[0] for c in NHWC_FOLD_CASES])
def test_mode_input_gradient_fused_fold_channels_last(mode, case):
    """layout="NHWC", depthwise (multiplier 1, stride 1): the padding-mode input
    gradient is the depthwise forward of grad_output, folded row by row as it
    is made (_conv.nhwc_dgrad_fold): on integer data exactly the reference
    (NCHW) moved channels-last, float32 and float64, 1 and 2 threads."""
    from convx import _api, _conv, _layout
    _, xs, kw = case
    N, C, H, W = xs
    R = 5 if "5x5" in case[0] else 3
    rng = np.random.default_rng(71)
    w = rng.integers(-3, 4, (C, 1, R, R)).astype(np.float64)
    geo = _api._geometry(xs, w.shape, 1, kw["padding"], kw.get("dilation", 1), C)
    g = rng.integers(-3, 4, geo.output_shape).astype(np.float64)
    want = convx.conv2d_input(xs, w, g, padding_mode=mode, groups=C, **kw)
    if N * C * H * W < 10**5:
        np.testing.assert_array_equal(want, ref_conv_input(xs, w, g, mode=mode, groups=C, **kw))
    want = np.ascontiguousarray(want.transpose(0, 2, 3, 1))
    gl = np.ascontiguousarray(g.transpose(0, 2, 3, 1))
    (t, b), (l, r) = geo.padding
    pgeo = _api._geometry((N, C, H + t + b, W + l + r), w.shape, 1, 0, kw.get("dilation", 1), C)
    src_h = _padmode.source_index(H, t, b, mode).astype(np.intp)
    src_w = _padmode.source_index(W, l, r, mode).astype(np.intp)
    for dtype in (np.float32, np.float64):
        wd, gd = w.astype(dtype), gl.astype(dtype)
        g2, wt = _layout._input_as_forward(wd, pgeo)
        for threads in (1, 2):
            fused = np.full((N, H, W, C), np.nan, dtype)
            assert _conv.nhwc_dgrad_fold(gd.reshape(-1), wt, fused.reshape(-1), g2,
                                         (H, W, t, l, src_h, src_w), threads)
            np.testing.assert_array_equal(fused, want)
            got = convx.conv2d_input((N, H, W, C), wd, gd, padding_mode=mode, groups=C,
                                     layout="NHWC", threads=threads, **kw)
            np.testing.assert_array_equal(got, want)


def test_mode_input_gradient_fused_fold_channels_last_refusals():
    """nhwc_dgrad_fold writes nothing and says so for a layer that is not
    depthwise with multiplier 1, and rejects inconsistent fold tables."""
    from convx import _conv
    src = np.array([1, 0, 1, 2, 3, 2], np.intp)             # reflect, 4 + 1 + 1
    dy = np.ones(4 * 4 * 2, np.float32)
    dx = np.full(4 * 4 * 2, 7.0, np.float32)
    dense = (1, 2, 4, 4, 2, 3, 3, 6, 6, 1, 1, 1, 1, 2, 2, 1)      # forward form, groups 1
    assert not _conv.nhwc_dgrad_fold(dy, np.ones(2 * 2 * 9, np.float32), dx, dense,
                                     (4, 4, 1, 1, src, src), 1)
    assert (dx == 7).all()
    dw = (1, 2, 4, 4, 2, 3, 3, 6, 6, 1, 1, 1, 1, 2, 2, 2)         # depthwise
    w = np.ones(2 * 9, np.float32)
    with pytest.raises(ValueError, match="src_w"):
        _conv.nhwc_dgrad_fold(dy, w, dx, dw, (4, 4, 1, 1, src, src - 1), 1)
    with pytest.raises(ValueError, match="inconsistent"):
        _conv.nhwc_dgrad_fold(dy, w, dx[:-1], dw, (4, 4, 1, 1, src, src), 1)
    assert (dx == 7).all()
    assert _conv.nhwc_dgrad_fold(dy, w, dx, dw, (4, 4, 1, 1, src, src), 1)
    assert (dx != 7).all()
