"""Channels-last (NHWC) convolutions computed natively (convx._layout).

The specification: for x (N, H, W, C), grad_output (N, P, Q, K) and the weight
in its usual (K, C/groups, R, S) layout,

    nhwc_forward(x, w, b)  == conv2d(x as NCHW, w, b) as NHWC
    nhwc_weight(x, gy)     == conv2d_weight(x as NCHW, w.shape, gy as NCHW)
    nhwc_input(w, gy)      == conv2d_input(x.shape as NCHW, w, gy as NCHW) as NHWC

bit for bit on integer-valued data (every sum exact), and equal to the float64
reference (tests/reference.py); over a named sweep of geometries, both
dtypes, every SIMD path, any thread count (bitwise on random data too), with
the NCHW path's NaN / inf rules, and no write outside the result.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convx
from convx import _api, _conv, _layout
from hostile import SUBRUN, SUPPORTED, _PoisonedNumpy, on_path, poisoned
from reference import ref_conv2d, ref_conv2d_input, ref_conv2d_weight

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]


def _tiles(dtype):
    k = _conv.kernel_info()[np.dtype(dtype).name]
    return k["mr"], k["nr"], k["mc"], k["kc"]


# (id, builder(mr, nr, mc, kc) -> (input shape NCHW, weight shape, geometry kwargs));
# mr, nr, mc, kc: the active path's GEMM tile and blocks for the dtype
CASES = [
    ("1x1", lambda *t: ((2, 16, 5, 6), (24, 16, 1, 1), {})),
    ("3x3_pad1", lambda *t: ((2, 16, 9, 9), (24, 16, 3, 3), dict(padding=1))),
    ("5x5_stride2", lambda *t: ((2, 8, 13, 11), (16, 8, 5, 5), dict(stride=2))),
    ("7x7_stride2_pad3_rgb", lambda *t: ((2, 3, 20, 19), (16, 3, 7, 7), dict(stride=2, padding=3))),
    # the stem's NHWC weight gradient on the lane tiles: 48 channels' dY gathered
    # 16 x 16 at a time, a row of 20 pixels (a whole block, then 4)
    ("7x7_stride2_pad3_rgb_k48", lambda *t: ((2, 3, 9, 40), (48, 3, 7, 7),
                                              dict(stride=2, padding=3))),
    ("dilation2", lambda *t: ((2, 8, 11, 10), (12, 8, 3, 3), dict(dilation=2, padding=2))),
    ("asymmetric_padding", lambda *t: ((1, 5, 8, 9), (7, 5, 3, 2),
                                       dict(stride=(2, 1), padding=((1, 0), (2, 1))))),
    ("same_even_kernel", lambda *t: ((2, 6, 8, 7), (10, 6, 4, 2), dict(padding="same"))),
    # the weight gradient's GEMM drivers with more output channels than any
    # build's lane tiles take (64 without channel-vector tiles)
    ("same_even_kernel_k72", lambda *t: ((2, 6, 8, 7), (72, 6, 4, 2), dict(padding="same"))),
    ("reduction_above_kc_k72", lambda mr, nr, mc, kc: ((1, kc // 9 + 5, 5, 6),
                                                        (72, kc // 9 + 5, 3, 3),
                                                        dict(padding=1))),
    ("same_even_dilated_stride1", lambda *t: ((1, 9, 7, 8), (9, 9, 2, 4),
                                               dict(padding="same", dilation=(2, 1)))),
    ("groups2", lambda *t: ((2, 8, 7, 7), (12, 4, 3, 3), dict(groups=2, padding=1))),
    ("groups2_wide", lambda *t: ((1, 32, 6, 7), (20, 16, 3, 3), dict(groups=2, padding=1))),
    ("depthwise", lambda *t: ((2, 70, 9, 8), (70, 1, 3, 3), dict(groups=70, padding=1))),
    ("depthwise_multiplier2", lambda *t: ((2, 8, 9, 9), (16, 1, 3, 3), dict(groups=8, padding=1))),
    ("depthwise_stride2", lambda *t: ((1, 33, 9, 10), (33, 1, 3, 3),
                                      dict(groups=33, stride=2, padding=1))),
    ("depthwise_mult4_dilated", lambda *t: ((1, 5, 9, 9), (20, 1, 3, 3),
                                            dict(groups=5, dilation=2, padding=(2, 1)))),
    ("K_below_nr", lambda mr, nr, mc, kc: ((1, 8, 6, 7), (nr - 1, 8, 3, 3), dict(padding=1))),
    ("K_at_nr", lambda mr, nr, mc, kc: ((1, 8, 6, 7), (nr, 8, 3, 3), dict(padding=1))),
    ("K_above_nr", lambda mr, nr, mc, kc: ((1, 8, 6, 7), (nr + 1, 8, 3, 3), dict(padding=1))),
    ("K_below_mr", lambda mr, nr, mc, kc: ((1, 9, 6, 7), (mr - 1, 9, 3, 3), dict(padding=1))),
    ("reduction_above_kc", lambda mr, nr, mc, kc: ((1, kc // 9 + 5, 5, 6), (12, kc // 9 + 5, 3, 3),
                                                    dict(padding=1))),
    ("C1", lambda *t: ((2, 1, 9, 9), (8, 1, 5, 5), dict(padding=2))),
    ("Q_below_mr", lambda mr, nr, mc, kc: ((1, 4, 3, mr - 1), (6, 4, 3, 3), dict(padding=1))),
    ("Q_at_mr", lambda mr, nr, mc, kc: ((1, 4, 3, mr), (6, 4, 3, 3), dict(padding=1))),
    ("Q_above_mr", lambda mr, nr, mc, kc: ((1, 4, 3, mr + 1), (6, 4, 3, 3), dict(padding=1))),
    ("pixels_above_mc", lambda mr, nr, mc, kc: ((1, 4, 3, mc // 3 + 7), (6, 4, 3, 3),
                                                 dict(padding=1))),
    ("N1", lambda *t: ((1, 6, 7, 7), (8, 6, 3, 3), dict(padding=1))),
    ("N3", lambda *t: ((3, 6, 7, 7), (8, 6, 3, 3), dict(padding=1, stride=2))),
    ("one_row_images", lambda *t: ((2, 4, 1, 17), (6, 4, 1, 3), dict(padding=(0, 1)))),
    ("kernel_larger_than_image", lambda *t: ((1, 3, 2, 3), (5, 3, 5, 5), dict(padding=2))),
    ("stride_above_kernel", lambda *t: ((1, 4, 11, 11), (5, 4, 2, 2), dict(stride=3))),
    ("bottom_pad_never_read", lambda *t: ((1, 2, 6, 6), (2, 2, 2, 2),
                                          dict(stride=3, padding=((0, 1), (0, 1))))),
    ("tall_strided_input_gradient_bands", lambda *t: ((1, 8, 41, 12), (10, 8, 3, 3),
                                                      dict(stride=2, padding=1))),
    # 16-channel output blocks: the direct channel-vector tiles (dk_nhwc), with
    # input channels in and out of 16-blocks (the band's transposed fill), narrow
    # rows with a stride, 3/5/7-tap rows of any width, groups; the input
    # gradients of the 32/48-channel cases run the same tiles (C % 16 == 0)
    ("chvec_5x5_lenet2", lambda *t: ((3, 8, 14, 14), (16, 8, 5, 5), dict(padding=2))),
    ("chvec_3x3_c32_q37", lambda *t: ((2, 32, 6, 37), (32, 32, 3, 3), dict(padding=1))),
    ("chvec_3x3_c48_k16", lambda *t: ((1, 48, 5, 21), (16, 48, 3, 3), dict(padding=(0, 1)))),
    ("chvec_7x7_c19_q40", lambda *t: ((1, 19, 9, 40), (32, 19, 7, 7), dict(padding=3))),
    ("chvec_narrow_stride2", lambda *t: ((2, 17, 11, 13), (16, 17, 3, 3),
                                         dict(stride=2, padding=1))),
    ("chvec_groups2", lambda *t: ((2, 36, 7, 18), (32, 18, 5, 5), dict(groups=2, padding=2))),
    # 8 output channels, one group: pixel tiles made pixel-major 16 pixels at a
    # time (lenet1's 28 x 28; a stride-2 RGB layer with a short last block)
    ("k8_lenet1", lambda *t: ((3, 1, 28, 28), (8, 1, 5, 5), dict(padding=2))),
    ("k8_rgb_stride2", lambda *t: ((2, 3, 15, 17), (8, 3, 3, 3), dict(stride=2, padding=1))),
    # the GEMM drivers on the path's narrow tile where it pads N less (AVX-512:
    # 64 output channels = 2 x 32, not 2 x 48; 100 = 4 x 32 with a 4-column
    # last panel); channel runs of 16 and more through the transposing gather,
    # with tails (a 3x3 row of 20 channels is 60 values, 1x1 of 40 is 40)
    ("narrow_tile_K64_c20", lambda *t: ((2, 20, 7, 9), (64, 20, 3, 3), dict(padding=1))),
    ("narrow_tile_1x1_K64_c40", lambda *t: ((2, 40, 5, 7), (64, 40, 1, 1), {})),
    ("narrow_tile_stride2_K100", lambda *t: ((1, 24, 11, 9), (100, 24, 3, 3),
                                             dict(stride=2, padding=1))),
    # the weight gradient's c-major GEMM (taps x output channels): many output
    # channels over few taps, strided (no direct tiles), with padding and dilation
    ("cmajor_wgrad_K96_c2", lambda *t: ((2, 2, 9, 11), (96, 2, 3, 3),
                                        dict(stride=2, padding=1))),
    ("cmajor_wgrad_K96_c4_dilated", lambda *t: ((1, 4, 12, 10), (96, 4, 2, 2),
                                                dict(stride=(1, 2), dilation=2, padding=2))),
]
CASE_IDS = [c[0] for c in CASES]
CASE_BY_ID = dict(CASES)


def _kw(geometry):
    return dict(stride=geometry.get("stride", 1), padding=geometry.get("padding", 0),
                dilation=geometry.get("dilation", 1), groups=geometry.get("groups", 1))


def _setup(case_id, dtype, seed=0, integer=True):
    xs, ws, geometry = CASE_BY_ID[case_id](*_tiles(dtype))
    kw = _kw(geometry)
    geo = _api._geometry(xs, ws, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    rng = np.random.default_rng(seed)
    draw = ((lambda s: rng.integers(-3, 4, s)) if integer else rng.standard_normal)
    x = draw(xs).astype(dtype)
    w = draw(ws).astype(dtype)
    b = draw((ws[0],)).astype(dtype)
    gy = draw((xs[0], ws[0], geo.P, geo.Q)).astype(dtype)
    return geo, kw, x, w, b, gy


def nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def nchw(a):
    return a.transpose(0, 3, 1, 2)


def test_channel_vector_cases_take_the_direct_tiles():
    """The chvec cases above run the channel-vector tiles where the build has
    them (float32, 16-lane vectors); output channels not in blocks of 16 take
    the GEMM (or the depthwise loops)."""
    for case_id in CASE_IDS:
        geo = _setup(case_id, np.float32)[0]
        info = _conv.nhwc_plan_info(geo.astuple(), "fwd", np.float32)
        # (AVX2's float32 forward has 8-lane channel-vector tiles for kernel
        # rows of contiguous taps, dk_mode 2 of NCHW's plan, taken channels-last
        # on rows of up to 16 pixels, or 32 from at most 64 channels, or any
        # width from at most 128 channels over kernel rows of 3 taps)
        ch = min(geo.K, geo.C) // geo.groups
        cv8 = (_conv.plan_info(geo.astuple(), "fwd", "direct", np.float32)["dk_mode"] == 2
               and (geo.Q <= 16 or (geo.Q <= 32 and ch <= 64) or (geo.S == 3 and ch <= 128)))
        if case_id.startswith("chvec"):
            assert info["direct_tiles"] == (_api._channel_tiles(np.float32) or cv8 or (
                geo.groups == 1 and geo.K <= 16)), (case_id, info)
            # the weight gradient's channel-vector tiles need stride 1 along
            # rows; without them (AVX2, generic) NCHW's lane tiles take up to
            # 16 output channels a group (up to 64 over <= 64 input channels)
            wg = _conv.nhwc_plan_info(geo.astuple(), "wgrad", np.float32)
            lanes = _conv.plan_info(geo.astuple(), "wgrad", "direct", np.float32)
            Kg, Cg = geo.K // geo.groups, geo.C // geo.groups
            # (with them, strided layers from at most 4 input channels a group
            # to at most 64 output channels take the lane tiles too: the stem)
            few = Kg <= 64 and Cg <= 4 and (geo.R, geo.S) != (1, 1)
            assert wg["direct_tiles"] == ((_api._channel_tiles(np.float32)
                                           and (geo.stride[1] == 1 or few)) or
                                          (not _api._channel_tiles(np.float32) and
                                           (Kg <= 16 or (Kg <= 64 and Cg <= 64)) and
                                           lanes["direct_kernels"] and
                                           lanes["column_tile"] == 0)), (case_id, wg)
    # at most 8 output channels per group: NCHW's lane tiles (lenet1-sized:
    # 8 over 5x5 taps of one channel; and a strided RGB layer)
    for case_id in ("k8_lenet1", "k8_rgb_stride2", "C1"):
        for dt in DTYPES:
            geo = _setup(case_id, dt)[0]
            assert _conv.nhwc_plan_info(geo.astuple(), "wgrad", dt)["direct_tiles"] == \
                _conv.plan_info(geo.astuple(), "wgrad", "direct", dt)["direct_kernels"], case_id
    # the forward's direct tiles: channel-vector tiles (16k channels a group)
    # and their 8-channel transpose where the build has them (float32, 16
    # lanes), and one group of up to 64 channels from at most 4 input
    # channels, not 1x1 (the stem), made pixel-major by one transpose a band;
    # elsewhere one group of at most 16 channels (up to 64 from fewer than 16
    # input channels, not 1x1), the same way (and one output channel everywhere)
    for case_id in CASE_IDS:
        geo = _setup(case_id, np.float32)[0]
        Kg = geo.K // geo.groups
        for dt in DTYPES:
            info = _conv.nhwc_plan_info(geo.astuple(), "fwd", dt)
            if info["path"] == "avx2" and _conv.active_isa() == "avx512":
                # AVX-512 CPUs that run 512-bit FMAs as halves: AVX2's 8-lane
                # channel-vector tiles (cx_conv_dispatch.c)
                assert info["direct_tiles"] and Kg % 8 == 0 and dt == np.float32, \
                    (case_id, dt, info)
                assert _conv.cpu_avx512_halves()
            elif info["direct_tiles"] and Kg > 1:
                if _api._channel_tiles(dt):
                    Cg = geo.C // geo.groups
                    assert Kg % 16 == 0 or (Kg == 8 and geo.groups == 1) or (
                        geo.groups == 1 and Kg <= 64 and Cg <= 4 and (geo.R, geo.S) != (1, 1)), \
                        (case_id, dt, info)
                elif _conv.plan_info(geo.astuple(), "fwd", "direct", dt)["dk_mode"] == 2:
                    assert Kg % 8 == 0 and _conv.active_isa() == "avx2" and dt == np.float32
                else:
                    Cg = geo.C // geo.groups
                    assert geo.groups == 1 and (Kg <= 16 or (
                        Kg <= 64 and Cg < 16 and (geo.R, geo.S) != (1, 1))), (case_id, dt, info)
        if case_id in ("C1", "chvec_5x5_lenet2"):
            # 8 output channels, one group: pixel tiles made pixel-major (the
            # forward; lenet2's input gradient is that forward to 8 channels)
            g2 = _layout._input_as_forward(np.ones((geo.K, geo.C // geo.groups, geo.R, geo.S)),
                                           geo)
            fwd8 = geo if case_id == "C1" else _api._geometry(
                (geo.N, geo.K, geo.P, geo.Q), (geo.C, geo.K, geo.R, geo.S), 1, 2, 1, 1)
            for dt in DTYPES:
                assert _conv.nhwc_plan_info(fwd8.astuple(), "fwd", dt)["direct_tiles"], \
                    (case_id, dt)
            assert case_id == "C1" or g2 is not None


def _run_all(geo, x, w, b, gy, threads=2):
    """(y, dw, dx) of the three NHWC operations, y and dx returned as NCHW views."""
    y = _layout.nhwc_forward(nhwc(x), w, b, geo, threads)
    dw = _layout.nhwc_weight(nhwc(x), nhwc(gy), geo, threads)
    dx = _layout.nhwc_input(w, nhwc(gy), geo, threads)
    assert y.shape == (geo.N, geo.P, geo.Q, geo.K) and y.dtype == x.dtype
    assert dw.shape == w.shape and dw.dtype == x.dtype
    assert dx.shape == (geo.N, geo.H, geo.W, geo.C) and dx.dtype == x.dtype
    return nchw(y), dw, nchw(dx)


def _references(kw, x, w, b, gy):
    f = np.float64
    return (ref_conv2d(x.astype(f), w.astype(f), b.astype(f), **kw),
            ref_conv2d_weight(x.astype(f), w.shape, gy.astype(f), **kw),
            ref_conv2d_input(x.shape, w.astype(f), gy.astype(f), **kw))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_matches_reference_and_nchw_exactly(case_id, dtype):
    """Integer data: all three operations equal the float64 reference and the
    NCHW path (algorithm="auto") bit for bit."""
    geo, kw, x, w, b, gy = _setup(case_id, dtype)
    got = _run_all(geo, x, w, b, gy)
    refs = _references(kw, x, w, b, gy)
    nchw_results = (convx.conv2d(x, w, b, **kw),
                    convx.conv2d_weight(x, w.shape, gy, **kw),
                    convx.conv2d_input(x.shape, w, gy, **kw))
    for name, g, r, c in zip(("forward", "weight", "input"), got, refs, nchw_results):
        assert np.array_equal(g, r), f"{case_id} {name}: differs from the reference"
        assert np.array_equal(g, c), f"{case_id} {name}: differs from the NCHW path"


def test_the_sweep_reaches_every_driver():
    """The sweep runs the GEMM drivers and the depthwise loops, the strided
    input gradient with more than one band, the stride-1 input gradient as a
    forward and as GEMM + col2im (thin groups)."""
    plans = {c: {op: _conv.nhwc_plan_info(_setup(c, np.float32)[0].astuple(), op, np.float32)
                 for op in ("fwd", "wgrad", "dgrad")} for c in CASE_IDS}
    assert plans["depthwise"]["fwd"]["depthwise"] and plans["depthwise_multiplier2"]["dgrad"]["depthwise"]
    assert not plans["C1"]["fwd"]["depthwise"]          # multiplier 8: the GEMM
    assert plans["tall_strided_input_gradient_bands"]["dgrad"]["ntiles"] > 1
    # the weight gradient's k-major GEMM (Kg x RSC; one B panel built in
    # place, or RSC cut into blocks of several panels)
    # (AVX2's float32 runs 3x3 weight gradients of 8k output channels on the
    # direct channel-vector tiles: the sweep's float64 runs the GEMM there)
    gdt = (np.float64 if plans["reduction_above_kc_k72"]["wgrad"]["direct_tiles"]
           else np.float32)
    assert gdt == np.float32 or _conv.active_isa() == "avx2"
    wg = {c: _conv.nhwc_plan_info(_setup(c, gdt)[0].astuple(), "wgrad", gdt)
          for c in ("same_even_kernel_k72", "reduction_above_kc_k72")}
    assert wg["same_even_kernel_k72"]["kmajor"]
    assert wg["reduction_above_kc_k72"]["kmajor"] and not wg["reduction_above_kc_k72"]["direct_tiles"]
    assert wg["reduction_above_kc_k72"]["cblocks"] > 1
    # 10 and 12 output channels: NCHW's lane tiles where the build has no
    # channel-vector tiles, else the GEMM
    for c in ("same_even_kernel", "reduction_above_kc"):
        assert plans[c]["wgrad"]["direct_tiles"] == (not _api._channel_tiles(np.float32)), c
    k32 = _conv.kernel_info()["float32"]
    if k32["narrow"]["nr"] < k32["nr"]:
        # and the c-major one (RSC x Kg), where the AVX-512 tiles pad it less
        # (the lower paths' tiles send these to k-major too)
        assert not plans["cmajor_wgrad_K96_c2"]["wgrad"]["kmajor"]
        assert not plans["cmajor_wgrad_K96_c4_dilated"]["wgrad"]["kmajor"]
        # 100 output channels (and 216 taps x channels) pad to fewer narrow columns
        assert all(plans["narrow_tile_stride2_K100"][op]["narrow"] for op in plans["1x1"])
        # a 1x1 weight gradient's N is the input channels: 40 fit one main
        # panel, 16 one narrow one
        assert not plans["narrow_tile_1x1_K64_c40"]["wgrad"]["narrow"]
        assert plans["1x1"]["wgrad"]["narrow"]
        # 48 columns: the main tile exactly
        assert not plans["K_at_nr"]["fwd"]["narrow"]
    assert _layout._input_as_forward(np.ones((24, 16, 3, 3)), _setup("3x3_pad1", np.float32)[0])
    assert _layout._input_as_forward(np.ones((6, 4, 3, 3)), _setup("N1", np.float32)[0]) is None


@pytest.mark.parametrize("case_id", ["3x3_pad1", "7x7_stride2_pad3_rgb", "depthwise_multiplier2",
                                     "groups2", "1x1", "tall_strided_input_gradient_bands"])
def test_results_do_not_depend_on_thread_count(case_id):
    """Random (non-integer) data: 1, 2 and 3 threads give identical bits,
    including the weight gradient's batch split (N = 8 here)."""
    geo, kw, x, w, b, gy = _setup(case_id, np.float32, seed=5, integer=False)
    reps = 4
    x, gy = np.concatenate([x] * reps), np.concatenate([gy] * reps)
    geo = _api._geometry(x.shape, w.shape, kw["stride"], kw["padding"], kw["dilation"],
                         kw["groups"])
    one = _run_all(geo, x, w, b, gy, threads=1)
    for t in (2, 3):
        many = _run_all(geo, x, w, b, gy, threads=t)
        for a, c in zip(one, many):
            assert np.array_equal(a, c, equal_nan=True)


def test_weight_gradient_batch_split_is_thread_invariant():
    """A weight gradient with few items per image is cut into batch chunks
    (partial sums added in chunk order): still bitwise thread-invariant."""
    rng = np.random.default_rng(3)
    xs, ws = (16, 24, 6, 6), (16, 24, 3, 3)
    geo = _api._geometry(xs, ws, 1, 1, 1, 1)
    info = _conv.nhwc_plan_info(geo.astuple(), "wgrad", np.float32)
    assert info["nsplit"] > 1
    x = rng.standard_normal((16, 6, 6, 24)).astype(np.float32)
    gy = rng.standard_normal((16, 6, 6, 16)).astype(np.float32)
    a = _layout.nhwc_weight(x, gy, geo, 1)
    for t in (2, 4):
        assert np.array_equal(a, _layout.nhwc_weight(x, gy, geo, t))


@pytest.mark.skipif(SUBRUN, reason="runs every SIMD path in-process")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case_id", ["3x3_pad1", "7x7_stride2_pad3_rgb", "depthwise",
                                     "depthwise_multiplier2", "groups2", "K_above_nr",
                                     "tall_strided_input_gradient_bands", "reduction_above_kc"])
def test_every_simd_path_gives_the_same_bits(case_id, dtype):
    """Each path this CPU has (selected in-process), with its own tiles: exact."""
    for path in SUPPORTED:
        with on_path(path):
            geo, kw, x, w, b, gy = _setup(case_id, dtype)
            got = _run_all(geo, x, w, b, gy)
            for g, r in zip(got, _references(kw, x, w, b, gy)):
                assert np.array_equal(g, r), f"{case_id} on {path}"


_SUBPROCESS = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
import test_layout as t
from convx import _conv
assert _conv.active_isa() == {path!r}, _conv.active_isa()
for case_id in ("3x3_pad1", "depthwise_multiplier2", "5x5_stride2", "C1"):
    for dtype in t.DTYPES:
        geo, kw, x, w, b, gy = t._setup(case_id, dtype)
        for g, r in zip(t._run_all(geo, x, w, b, gy), t._references(kw, x, w, b, gy)):
            assert np.array_equal(g, r), (case_id, dtype)
print("ok")
"""


@pytest.mark.skipif(SUBRUN, reason="runs the lower paths itself")
@pytest.mark.parametrize("path", ["generic", "avx2", "avx512"])
def test_cpu_capability_variable_selects_the_path(path):
    """CONVX_CPU_CAPABILITY=<path> in a fresh process: the NHWC operations run
    on that path and stay exact."""
    if path not in SUPPORTED:
        pytest.skip(f"this CPU has no {path}")
    env = dict(os.environ, CONVX_CPU_CAPABILITY=path)
    tests = str(Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", _SUBPROCESS.format(tests=tests, path=path)],
                         env=env, capture_output=True, text=True, timeout=120,
                         cwd=str(Path(__file__).parent.parent))
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


# ------------------------------------------------------------------- non-finite values

def _same_specials(got, ref, where):
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = test(got) != test(ref)
        assert not bad.any(), f"{where}: {int(bad.sum())} elements differ in {name}"
    fin = np.isfinite(ref)
    assert np.array_equal(got[fin], ref[fin]), f"{where}: finite values differ"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case_id", ["3x3_pad1", "depthwise", "depthwise_multiplier2",
                                     "asymmetric_padding", "5x5_stride2", "C1",
                                     "bottom_pad_never_read", "kernel_larger_than_image"])
def test_nan_and_inf_propagate_as_the_reference(case_id, dtype):
    """inf / NaN in one operand: the reference's NaN and inf positions (padding
    taps multiply zeros in the forward and the weight gradient; the input
    gradient, also where it would run as a forward, multiplies no padding)."""
    rng = np.random.default_rng(7)
    for operand in ("x", "w", "gy"):
        for values in ([np.inf], [-np.inf], [np.nan], [np.inf, -np.inf, np.nan]):
            geo, kw, x, w, b, gy = _setup(case_id, dtype, seed=len(values))
            arrays = dict(x=x, w=w, gy=gy)
            flat = arrays[operand].reshape(-1)
            idx = rng.choice(flat.size, size=min(3, flat.size), replace=False)
            flat[idx] = rng.choice(values, size=idx.size)
            with np.errstate(invalid="ignore", over="ignore"):
                refs = _references(kw, x, w, b, gy)
                got = _run_all(geo, x, w, b, gy)
            for name, g, r in zip(("forward", "weight", "input"), got, refs):
                _same_specials(g, r.astype(dtype), f"{case_id} {name} {operand}={values}")


def test_inf_weight_on_padding():
    """The worked example of tests/test_nonfinite.py in NHWC: an inf weight tap
    (0, 0) of a 3x3 kernel with padding 1 (16 channels, so that the stride-1
    input gradient would otherwise run as a forward)."""
    C = 16
    geo = _api._geometry((1, C, 4, 4), (1, C, 3, 3), 1, 1, 1, 1)
    x = np.ones((1, 4, 4, C), np.float32)
    w = np.ones((1, C, 3, 3), np.float32)
    w[0, :, 0, 0] = np.inf
    y = _layout.nhwc_forward(x, w, None, geo, 2)[0, :, :, 0]
    expected = np.full((4, 4), np.inf, np.float32)
    expected[0, :] = expected[:, 0] = np.nan
    np.testing.assert_array_equal(y, expected)
    dx = _layout.nhwc_input(w, np.ones((1, 4, 4, 1), np.float32), geo, 2)[0, :, :, 0]
    reached = np.zeros((4, 4), bool)
    reached[:3, :3] = True
    np.testing.assert_array_equal(np.isposinf(dx), reached)
    assert np.isfinite(dx[~reached]).all()


# ------------------------------------------------------------ writes stay inside the result

GUARD = 4096


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case_id", ["3x3_pad1", "7x7_stride2_pad3_rgb", "depthwise_multiplier2",
                                     "groups2", "K_above_nr", "Q_below_mr",
                                     "tall_strided_input_gradient_bands", "bottom_pad_never_read"])
def test_no_write_outside_the_result_and_every_element_written(case_id, dtype, monkeypatch):
    """The C entries write exactly their result: results are slices of larger
    buffers whose guard bands hold a sentinel, the results and every buffer the
    glue allocates (workspace, packed weight, partial sums) start as NaN."""
    geo, kw, x, w, b, gy = _setup(case_id, dtype)
    refs = _references(kw, x, w, b, gy)
    sentinel = dtype(-12345.5)

    def guarded(size):
        big = np.full(size + 2 * GUARD, sentinel, dtype)
        big[GUARD:GUARD + size] = np.nan
        return big, big[GUARD:GUARD + size]

    monkeypatch.setattr(_layout, "np", _PoisonedNumpy())
    with poisoned():
        g = geo.astuple()
        big, y = guarded(geo.N * geo.P * geo.Q * geo.K)
        _conv.nhwc_fwd(nhwc(x).reshape(-1), w.reshape(-1), b, y, g, True, 2)
        assert (big[:GUARD] == sentinel).all() and (big[-GUARD:] == sentinel).all()
        assert np.array_equal(nchw(y.reshape(geo.N, geo.P, geo.Q, geo.K)), refs[0])
        big, dw = guarded(w.size)
        _conv.nhwc_wgrad(nhwc(x).reshape(-1), nhwc(gy).reshape(-1), dw, g, 2)
        assert (big[:GUARD] == sentinel).all() and (big[-GUARD:] == sentinel).all()
        assert np.array_equal(dw.reshape(w.shape), refs[1])
        big, dx = guarded(x.size)
        _conv.nhwc_dgrad(w.reshape(-1), nhwc(gy).reshape(-1), dx, g, 2)
        assert (big[:GUARD] == sentinel).all() and (big[-GUARD:] == sentinel).all()
        assert np.array_equal(nchw(dx.reshape(geo.N, geo.H, geo.W, geo.C)), refs[2])
        # the public functions under the same poisoning (stride-1 forward form included)
        for got, ref in zip(_run_all(geo, x, w, b, gy), refs):
            assert np.array_equal(got, ref)


@pytest.mark.parametrize("channels,hw", [(16, (400, 340)), (72, (140, 120))],
                         ids=["16_channels", "72_channels"])
def test_depthwise_outputs_beyond_the_caches_are_streamed(channels, hw):
    """Depthwise forward and input gradient with outputs over 8 MiB compute each
    row into the workspace and stream it out (non-temporal stores from the
    row's first 64-byte line): the same bits as NCHW on integer data, with
    16 channels (no whole vector block) and 72 (a block and a tail)."""
    xs, ws = (2, channels) + hw, (channels, 1, 3, 3)
    kw = dict(padding=1, groups=channels)
    geo = _api._geometry(xs, ws, 1, 1, 1, channels)
    rng = np.random.default_rng(8)
    for dtype in DTYPES:
        info = _conv.nhwc_plan_info(geo.astuple(), "fwd", dtype)
        assert info["depthwise"]
        assert info["streamed"] == (_conv.kernel_info()[np.dtype(dtype).name]["name"]
                                    .endswith("avx512")), info
        x = rng.integers(-3, 4, xs).astype(dtype)
        w = rng.integers(-3, 4, ws).astype(dtype)
        b = rng.integers(-3, 4, channels).astype(dtype)
        y = convx.conv2d(nhwc(x), w, b, layout="NHWC", **kw)
        assert np.array_equal(nchw(y), convx.conv2d(x, w, b, **kw))
        g = rng.integers(-3, 4, xs).astype(dtype)
        dx = convx.conv2d_input(nhwc(x).shape, w, nhwc(g), layout="NHWC", **kw)
        assert np.array_equal(nchw(dx), convx.conv2d_input(xs, w, g, **kw))
        # the gather loop itself (strided: no forward form) on a streamed output
        dg = _conv.nhwc_plan_info(geo.astuple(), "dgrad", dtype)
        assert dg["depthwise"] and dg["streamed"] == info["streamed"]
        dx2 = np.empty(nhwc(x).shape, dtype)
        _conv.nhwc_dgrad(w.reshape(-1), nhwc(g).reshape(-1), dx2.reshape(-1), geo.astuple(), 2)
        assert np.array_equal(nchw(dx2), convx.conv2d_input(xs, w, g, **kw))


# Channels-last depthwise forwards with kernel rows of 3 unit-step taps run in
# strips of output pixels (whole strips inside the image on plain loads, the
# others through the zero vector), whole channel vectors only, the rest of the
# channels by the pixel loop.
DW_STRIPS = [
    ("3x3_pad1", (2, 20, 23, 128), 3, dict(padding=1)),
    ("tail_channels", (2, 9, 5, 40), 3, dict(padding=(0, 1))),        # 2 vectors + 8
    ("2_rows_stride_h", (3, 11, 30, 37), 2, dict(padding=(1, 2), stride=(2, 1))),
    ("1_row_dilation_h", (2, 6, 6, 16), 1, dict(padding=(0, 1), dilation=(2, 1))),
    ("wide_pad3", (1, 30, 17, 48), 3, dict(padding=(1, 3))),
    ("two_cblocks", (2, 40, 40, 1100), 3, dict(padding=1)),           # > 8 MiB out, 2 items a band
    ("streamed_lines", (6, 30, 31, 512), 3, dict(padding=1)),         # streamed from registers
]


@pytest.mark.parametrize("case", DW_STRIPS, ids=[c[0] for c in DW_STRIPS])
def test_depthwise_channels_last_forward_strips(dev_flags, case):
    """The strips give the pixel loop's results (CX_DEV_NO_DWSTRIP) bit for bit,
    the reference's on integers, and its NaNs for an inf on the border, on
    every instruction-set path."""
    _, xs, r, kw = case
    C = xs[3]
    rng = np.random.default_rng(C)
    x = rng.integers(-3, 4, xs).astype(np.float64)
    w = rng.integers(-3, 4, (C, 1, r, 3)).astype(np.float64)
    b = rng.integers(-3, 4, C).astype(np.float64)
    kw = dict(kw, groups=C)
    before = _conv.active_isa()
    try:
        for isa in [p for p in ("generic", "avx2", "avx512") if p in _conv.isa_names()
                    and _conv.isa_names().index(p) <= _conv.isa_names().index(_conv.cpu_best_isa())]:
            _conv.select_isa(isa)
            for bad in (False, True):
                if bad:
                    x[0, 0, -1, 5] = np.inf
                    w[3, 0, 0, 0] = -np.inf
                with np.errstate(invalid="ignore"):
                    ref = ref_conv2d(nchw(x), w, b, **kw)
                for dtype in DTYPES:
                    got = []
                    for flags in (0, 2048, 4194304 | 8388608):
                        dev_flags(flags)
                        got.append(convx.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype),
                                                layout="NHWC", threads=2, **kw))
                    dev_flags(0)
                    np.testing.assert_array_equal(got[0], got[1])
                    np.testing.assert_array_equal(got[0], got[2])
                    np.testing.assert_array_equal(np.isnan(nchw(got[0])), np.isnan(ref))
                    fin = ~np.isnan(ref)
                    np.testing.assert_array_equal(nchw(got[0])[fin], ref[fin])
            x[0, 0, -1, 5] = 0
            w[3, 0, 0, 0] = 0
    finally:
        _conv.select_isa(before)


@pytest.mark.parametrize("case", DW_STRIPS, ids=[c[0] for c in DW_STRIPS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_depthwise_channels_last_forward_forms_round_alike(dev_flags, case, dtype):
    """On random reals (where an unfused multiply-add or another order shows),
    the strips two output rows a pass (AVX-512), one row a pass
    (CX_DEV_NO_DW2ROW), their results through the staged row
    (CX_DEV_NO_DWNT) and the pixel loop (CX_DEV_NO_DWSTRIP) agree bit for bit,
    at 1, 2 and 3 threads (other bands: other rows start a pair)."""
    _, xs, r, kw = case
    C = xs[3]
    rng = np.random.default_rng(C + 1)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal((C, 1, r, 3)).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    kw = dict(kw, groups=C)
    first = None
    for flags in (0, 8388608, 4194304, 2048):
        dev_flags(flags)
        for threads in (1, 2, 3):
            got = convx.conv2d(x, w, b, layout="NHWC", threads=threads, **kw)
            if first is None:
                first = got
            np.testing.assert_array_equal(got, first, err_msg=f"flags {flags}, {threads} threads")
    dev_flags(0)
    if case[0] == "streamed_lines":
        geo = _api._geometry(nchw(x).shape, w.shape, kw.get("stride", 1), kw["padding"], 1, C)
        info = _conv.nhwc_plan_info(geo.astuple(), "fwd", dtype)
        # (streamed, i.e. from registers where the lines are whole: AVX-512 only)
        assert info["depthwise"] and info["streamed"] == (info["path"] == "avx512")
        assert got.ctypes.data % 64 == 0        # (convx._memory: results on a line start)


# Channels-last 3x3 depthwise weight gradients (unit steps along rows) run in
# segments of output columns: whole 8-column blocks inside the image unrolled,
# the rest of the inside without checks, the edges and padding rows with them.
DW_WGRAD_BLOCKS = [
    ("pad1", (2, 12, 30, 32), dict(padding=1)),           # blocks + a 5-column rest
    ("pad0_exact", (1, 6, 18, 16), dict(padding=0)),      # 16 columns: 2 whole blocks
    ("pad2_narrow", (2, 4, 5, 48), dict(padding=2)),      # no whole block; padding rows
    ("tail_channels", (1, 7, 21, 40), dict(padding=(1, 0))),   # 2 vectors + 8 channels
    ("stride_h2", (2, 11, 27, 16), dict(padding=1, stride=(2, 1))),
]


@pytest.mark.parametrize("case", DW_WGRAD_BLOCKS, ids=[c[0] for c in DW_WGRAD_BLOCKS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_depthwise_channels_last_weight_gradient_blocks(dev_flags, case, dtype):
    """The column blocks (channels inside) give the whole-row passes'
    (CX_DEV_NO_DWWBLK) results bit for bit on random reals at 1 and 2 threads,
    and the reference's exactly on integers."""
    _, xs, kw = case
    C = xs[3]
    rng = np.random.default_rng(C + 7)
    kw = dict(kw, groups=C)
    for ints in (False, True):
        if ints:
            x = rng.integers(-3, 4, xs).astype(dtype)
        else:
            x = rng.standard_normal(xs).astype(dtype)
        y = convx.conv2d(x, np.ones((C, 1, 3, 3), dtype), layout="NHWC", **kw)
        g = (rng.integers(-3, 4, y.shape) if ints else rng.standard_normal(y.shape)).astype(dtype)
        got = []
        for flags in (0, 16777216):
            dev_flags(flags)
            for threads in (1, 2):
                got.append(convx.conv2d_weight(x, (C, 1, 3, 3), g, layout="NHWC",
                                               threads=threads, **kw))
        dev_flags(0)
        for other in got[1:]:
            np.testing.assert_array_equal(got[0], other)
        if ints:
            ref = ref_conv2d_weight(nchw(x), (C, 1, 3, 3), nchw(g), **kw)
            np.testing.assert_array_equal(got[0], ref)


# Channels-last forwards write each row of tiles' pixels as soon as the row
# is made: to 8 output channels (one group) by transposes, whose last block
# of a band is short where its pixels are not a multiple of 16; to 16k
# channels (lenet2's forward) from the channel-vector tiles' results.
ROWSOUT_CASES = [
    ("lenet1", (5, 28, 28, 1), (8, 1, 5, 5), dict(padding=2)),      # 784 pixels: 49 blocks
    ("rows_of_13", (3, 11, 13, 2), (8, 2, 3, 3), dict(padding=1)),  # blocks across rows, tail 3
    ("stride2_rgb", (2, 15, 17, 3), (8, 3, 3, 3), dict(stride=2, padding=1)),
    ("tall", (1, 70, 9, 1), (8, 1, 3, 3), dict(padding=(1, 0))),    # 70 rows of 7 pixels
    # (the input gradient of 8 input channels is a forward to 8 channels)
    ("lenet2", (4, 14, 14, 8), (16, 8, 5, 5), dict(padding=2)),
]


def _nhwc_forward_same_with_flag(dev_flags, flag, x, w, b, kw, tol):
    """The channels-last forward of x (NHWC) at 1 to 3 threads, with and
    without the developer switch `flag`: all the same bits, and the NCHW
    forward's values within tol. Returns it."""
    got = []
    for flags in (0, flag):
        dev_flags(flags)
        for threads in (1, 2, 3):
            got.append(convx.conv2d(x, w, b, layout="NHWC", threads=threads, **kw))
    dev_flags(0)
    for other in got[1:]:
        np.testing.assert_array_equal(got[0], other)
    want = convx.conv2d(nchw(x), w, b, **kw)
    np.testing.assert_allclose(nchw(got[0]), want, rtol=tol, atol=tol)
    return got[0]


@pytest.mark.parametrize("case", ROWSOUT_CASES, ids=[c[0] for c in ROWSOUT_CASES])
def test_channels_last_forward_rows_out_as_made(dev_flags, case):
    """The channels-last forwards whose tiles make pixel-major results (8
    output channels: transposes; 16k: the channel-vector tiles) write each
    row of tiles' pixels as soon as the row is made: the same bits as after
    the band's last row (CX_DEV_NO_ROWSOUT) on random reals at 1 to 3
    threads, and the NCHW forward's values; their input-gradient use
    (lenet2's, a forward to 8 channels) too."""
    _, xs, ws, kw = case
    rng = np.random.default_rng(len(xs) + xs[1])
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    y = _nhwc_forward_same_with_flag(dev_flags, 32768, x, w, b, kw, 1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = []
    for flags in (0, 32768):
        dev_flags(flags)
        dx.append(convx.conv2d_input(x.shape, w, g, layout="NHWC", threads=2, **kw))
    dev_flags(0)
    np.testing.assert_array_equal(dx[0], dx[1])


# Channels-last forwards on pixel tiles with several blocks of output channels
# (stride 2, or rows too wide for the channel-vector tiles) make a row of
# pixels' every block, then transpose it (CX_DEV_NO_NHWCROWS: blocks outside
# the band's rows, one transpose at its end).
NHWCROWS_CASES = [
    ("stem_like", (2, 40, 38, 3), (64, 3, 7, 7), dict(stride=2, padding=3)),
    ("k24_rows_of_19", (1, 9, 19, 5), (24, 5, 3, 3), dict(padding=1)),   # tail pixels
    ("k48_f64_wide", (2, 6, 40, 2), (48, 2, 3, 3), dict(padding=(0, 1))),
]


@pytest.mark.parametrize("case", NHWCROWS_CASES, ids=[c[0] for c in NHWCROWS_CASES])
def test_channels_last_forward_blocks_a_row_at_a_time(dev_flags, case):
    """The same bits as the band-order form on random reals, float32 and
    float64, 1 to 3 threads, bias or none; the NCHW forward's values."""
    _, xs, ws, kw = case
    rng = np.random.default_rng(xs[2] + ws[0])
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        for bias in (b, None):
            _nhwc_forward_same_with_flag(dev_flags, 134217728, x, w, bias, kw,
                                         1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("xs, ws, pad, groups", [
    ((8, 64, 6, 6), (128, 64, 3, 3), 1, 1),      # C block 128 x 576 > 256 KB: 9 blocks, 2 chunks
    ((3, 40, 7, 5), (160, 20, 3, 3), 1, 2),      # two groups, 3 images (N * G < 8)
    ((2, 30, 9, 40), (80, 30, 3, 3), 1, 1),      # pixels per image above KC: several slabs
])
def test_weight_gradient_prepacked_dy(xs, ws, pad, groups):
    """The k-major weight gradient with dY^T packed once per call (image by
    image, group by group, in KC slabs) and blocks of rsc columns: exactly
    the reference on integer data (float32 and float64), and the same bits
    for 1 to 3 threads on random data."""
    geo = _api._geometry(xs, ws, 1, pad, 1, groups)
    rng = np.random.default_rng(9)
    for dtype in (np.float32, np.float64):
        info = _conv.nhwc_plan_info(geo.astuple(), "wgrad", dtype)
        if not info["kmajor"] or info["narrow"] or info["direct_tiles"]:
            pytest.skip(f"this path's plan is not the k-major GEMM on the main tile: {info}")
        assert info["packed_weight_bytes"] > 0 and info["cblocks"] > 1, info
        x = rng.integers(-3, 4, xs).astype(dtype)
        gy = rng.integers(-3, 4, geo.output_shape).astype(dtype)
        want = ref_conv2d_weight(x.astype(np.float64), ws, gy.astype(np.float64), padding=pad,
                                 groups=groups)
        got = _layout.nhwc_weight(nhwc(x), nhwc(gy), geo, 2)
        assert np.array_equal(got, want)
        xr = rng.standard_normal(xs).astype(dtype)
        gr = rng.standard_normal(geo.output_shape).astype(dtype)
        one = _layout.nhwc_weight(nhwc(xr), nhwc(gr), geo, 1)
        for t in (2, 3):
            assert np.array_equal(_layout.nhwc_weight(nhwc(xr), nhwc(gr), geo, t), one)
        np.testing.assert_allclose(one, ref_conv2d_weight(xr.astype(np.float64), ws,
                                                          gr.astype(np.float64), padding=pad,
                                                          groups=groups),
                                   rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3)


def test_workspace_is_bounded_whatever_the_batch():
    """Per-thread workspace does not grow with the batch or the image."""
    for N, H in ((1, 56), (64, 56), (8, 224)):
        geo = _api._geometry((N, 64, H, H), (64, 64, 3, 3), 2, 1, 1, 1)
        for op in ("fwd", "wgrad", "dgrad"):
            info = _conv.nhwc_plan_info(geo.astuple(), op, np.float32)
            assert info["workspace_bytes"] <= 4 << 20, (N, H, op, info)


@pytest.mark.parametrize("case", [
    ((3, 10, 12, 8), (16, 8, 3, 3), dict(padding=1)),
    ((3, 9, 9, 16), (32, 16, 5, 5), dict(padding=2, stride=(1, 2))),
    ((4, 12, 12, 1), (8, 1, 5, 5), dict(padding=2)),
], ids=["c8", "c16_wstride", "c1_k8"])
def test_kept_band_zeros_on_poisoned_workspace(case):
    """Items after a thread's first of a forward call keep their band's zero
    rows and columns (channels-last too): on workspaces that start as NaN, a
    zero not written once shows; forward and input gradient (the forward of
    grad_output's 8 channels for the last case) equal the reference."""
    xs, ws, kw = case
    rng = np.random.default_rng(21)
    x = rng.integers(-3, 4, xs).astype(np.float32)
    w = rng.integers(-3, 4, ws).astype(np.float32)
    xn = x.transpose(0, 3, 1, 2)
    was = _conv._set_poison_workspace(True)
    try:
        y = convx.conv2d(x, w, layout="NHWC", threads=1, **kw)
        want = ref_conv2d(xn, w, **kw)
        np.testing.assert_array_equal(y, want.transpose(0, 2, 3, 1))
        gy = rng.integers(-3, 4, want.shape).astype(np.float32)
        dx = convx.conv2d_input(xs, w, gy.transpose(0, 2, 3, 1), layout="NHWC", threads=1,
                                **kw)
        np.testing.assert_array_equal(
            dx, ref_conv2d_input(xn.shape, w, gy, **kw).transpose(0, 2, 3, 1))
    finally:
        _conv._set_poison_workspace(was)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [24, 64])
def test_forward_pixel_major_bands_over_16_channels(dtype, K):
    """Without channel-vector tiles, a forward from a few input channels to up
    to 64 outputs runs the direct tiles in bands whose pixel-major buffer stays
    within 256 KB (several bands an image here): exact on integer data against
    the reference and NCHW, 1 and 2 threads the same bits."""
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (2, 3, 70, 66)).astype(dtype)
    w = rng.integers(-3, 4, (K, 3, 5, 5)).astype(dtype)
    b = rng.integers(-3, 4, K).astype(dtype)
    kw = dict(stride=(2, 1), padding=2)
    geo = _api._geometry(x.shape, w.shape, (2, 1), 2, 1, 1)
    info = _conv.nhwc_plan_info(geo.astuple(), "fwd", dtype)
    if not _api._channel_tiles(dtype):
        assert info["direct_tiles"], info
        assert info["tile"] * K * geo.Q * np.dtype(dtype).itemsize <= 256 << 10, info
        assert info["ntiles"] > 1, info
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    outs = [convx.conv2d(xh, w, b, layout="NHWC", threads=t, **kw) for t in (1, 2)]
    np.testing.assert_array_equal(nchw(outs[0]), ref)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(nchw(outs[0]), convx.conv2d(x, w, b, **kw))


def test_forward_pixel_major_stem_streamed():
    """A stem-like forward (3 channels to 64, 7x7, stride 2) runs the direct
    tiles into the pixel-major buffer on every build (channel-vector builds:
    from at most 4 input channels where those tiles do not take the layer);
    an output over 8 MiB leaves the 16 x 16 transposes by non-temporal
    stores (AVX-512 float32). Exact on integer data against NCHW, 1 and 2
    threads the same bits."""
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 4, (1, 3, 400, 402)).astype(np.float32)
    w = rng.integers(-3, 4, (64, 3, 7, 7)).astype(np.float32)
    b = rng.integers(-3, 4, 64).astype(np.float32)
    kw = dict(stride=2, padding=3)
    geo = _api._geometry(x.shape, w.shape, 2, 3, 1, 1)
    assert geo.P * geo.Q * 64 * 4 > 8 << 20
    assert _conv.nhwc_plan_info(geo.astuple(), "fwd", np.float32)["direct_tiles"]
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    outs = [convx.conv2d(xh, w, b, layout="NHWC", threads=t, **kw) for t in (1, 2)]
    np.testing.assert_array_equal(nchw(outs[0]), convx.conv2d(x, w, b, **kw))
    np.testing.assert_array_equal(outs[0], outs[1])


# (id, N, C, H, W, K, groups): 1x1 stride-1 forwards on the GEMM, whose pixel
# rows the tile's A-row twin reads in place in whole blocks of MR rows (the
# last shorter block packed): pixel counts off the row blocks and the MC
# blocks, reductions above KC (several KC passes over one output), output
# channels across several NR panels and within one, groups (a channel
# offset inside each pixel row)
AROWS_CASES = [
    ("res1x1_like", 2, 64, 9, 13, 64, 1),
    ("reduction_above_kc", 1, 600, 5, 7, 40, 1),
    ("many_panels", 1, 24, 11, 17, 200, 1),
    ("groups2", 2, 32, 6, 25, 48, 2),
    ("one_pixel_block", 1, 16, 2, 3, 8, 1),
]


@pytest.mark.skipif(SUBRUN, reason="runs every SIMD path in-process")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", AROWS_CASES, ids=[c[0] for c in AROWS_CASES])
def test_channels_last_1x1_forward_reads_pixel_rows_in_place(dev_flags, case, dtype):
    """The channels-last 1x1 stride-1 forward on the GEMM reads its pixel rows
    in place (the tile's A-row twin, cx_*_agemm_ukernel_*): the same bits as
    with the rows packed into A panels (CX_DEV_NO_AROWS) on random reals at 1
    to 3 threads on every SIMD path, and exactly the NCHW forward on integer
    data."""
    _, N, C, H, W, K, groups = case
    rng = np.random.default_rng(N + C + K)
    kw = dict(groups=groups, algorithm="im2col")
    for path in SUPPORTED:
        with on_path(path):
            for integers in (True, False):
                if integers:
                    x = rng.integers(-4, 5, (N, H, W, C)).astype(dtype)
                    w = rng.integers(-4, 5, (K, C // groups, 1, 1)).astype(dtype)
                    b = rng.integers(-4, 5, K).astype(dtype)
                else:
                    x = rng.standard_normal((N, H, W, C)).astype(dtype)
                    w = rng.standard_normal((K, C // groups, 1, 1)).astype(dtype)
                    b = rng.standard_normal(K).astype(dtype)
                tol = 1e-4 if dtype == np.float32 else 1e-12
                y = _nhwc_forward_same_with_flag(dev_flags, 1 << 34, x, w, b, kw, tol)
                if integers:
                    np.testing.assert_array_equal(nchw(y), convx.conv2d(nchw(x), w, b, **kw))
