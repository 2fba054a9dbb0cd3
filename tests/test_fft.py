"""The FFT algorithm (convx/_fft.py) against the float64 reference.

The FFT computes every output from the spectra of whole tiles, so its
rounding error is not that of one output's sum: an FFT of F points has a
relative error of about eps * log2(F) in the 2-norm, spread over all its
outputs. The tolerance is therefore global for each call,

    |got - ref| <= SAFETY * eps * log2(Fh * Fw) * max(magnitude)

where magnitude is the same operation on absolute values (the size of the
sums the outputs are made of) and Fh x Fw the transform size the plan uses.
The largest error seen over this file's cases (three seeds each) is 0.37 of
that with SAFETY = 1 (float32 and float64 alike), so SAFETY = 4 leaves a
margin of ~10x, while a missing or misplaced term is of the order of the
magnitude itself.

Besides the sweep: the adjoint identity (the three ops are one bilinear
form), each overlap-save tiling against the one-tile transform, the numpy.fft
fallback, chunking, threads, memory errors and the "auto" policy.
"""

import itertools
import math

import numpy as np
import pytest

from convx import _api, _fft
from convx._api import _geometry
from reference import ref_conv2d, ref_conv2d_input, ref_conv2d_weight

SAFETY = 4.0


# (id, N, C, H, W, K, R, S, padding, dilation, groups)
CASES = [
    ("kernel_1x1", 2, 3, 5, 6, 4, 1, 1, 0, 1, 1),
    ("kernel_1x1_pad", 1, 2, 4, 3, 3, 1, 1, ((1, 2), (0, 3)), 1, 1),
    ("nonsquare_3x5", 2, 3, 9, 11, 4, 3, 5, 0, 1, 1),
    ("nonsquare_4x2_same", 1, 2, 7, 8, 3, 4, 2, ((1, 2), (0, 1)), 1, 1),
    ("dilation2", 1, 3, 12, 11, 4, 3, 3, 2, 2, 1),
    ("dilation_1x3", 2, 2, 9, 13, 3, 3, 2, ((1, 0), (2, 2)), (1, 3), 1),
    ("groups2", 2, 4, 6, 7, 6, 3, 3, 1, 1, 2),
    ("depthwise", 2, 4, 7, 6, 4, 3, 3, 1, 1, 4),
    ("depthwise_multiplier2", 1, 3, 7, 8, 6, 3, 3, 1, 1, 3),
    ("groups3_dilated", 3, 6, 8, 9, 3, 2, 3, ((0, 1), (1, 0)), (2, 1), 3),
    ("pad0_valid", 2, 2, 8, 9, 3, 3, 4, 0, 1, 1),
    ("pad_asym", 2, 3, 6, 7, 4, 3, 3, ((0, 2), (3, 1)), 1, 1),
    ("pad_larger_than_kernel", 1, 2, 4, 5, 3, 2, 2, ((3, 4), (5, 2)), 1, 1),
    ("pad_only_sees_padding_rows", 2, 1, 3, 4, 2, 2, 3, ((6, 5), (4, 7)), 1, 1),
    ("N1", 1, 3, 6, 5, 4, 3, 3, 1, 1, 1),
    ("N3", 3, 2, 5, 6, 3, 3, 3, 1, 1, 1),
    ("H1_1d", 2, 2, 1, 50, 3, 1, 9, ((0, 0), (4, 2)), 1, 1),
    ("H1_1d_long_kernel", 1, 1, 1, 300, 1, 1, 40, 0, 1, 1),
    ("W1_column", 1, 2, 40, 1, 2, 7, 1, ((3, 3), (0, 0)), 1, 1),
    ("odd_even_sizes", 2, 2, 7, 8, 3, 4, 3, ((2, 1), (1, 1)), 1, 1),
    ("dgrad_rows_never_read", 2, 2, 5, 9, 2, 2, 2, 0, (3, 4), 1),
    ("kernel_as_large_as_input", 1, 2, 5, 6, 2, 5, 6, 0, 1, 1),
    ("channels_8x8_kernel_5", 2, 8, 12, 13, 8, 5, 5, 2, 1, 1),
]
CASE_IDS = [c[0] for c in CASES]


def named(case_id):
    return CASES[CASE_IDS.index(case_id)]


def make_geo(case):
    _, N, C, H, W, K, R, S, padding, dilation, groups = case
    return _geometry((N, C, H, W), (K, C // groups, R, S), 1, padding, dilation, groups)


def ref_kwargs(geo):
    return dict(stride=1, padding=geo.padding, dilation=geo.dilation, groups=geo.groups)


def operands(geo, rng, dtype):
    x = rng.standard_normal(geo.input_shape).astype(dtype)
    w = rng.standard_normal(geo.weight_shape).astype(dtype)
    gy = rng.standard_normal(geo.output_shape).astype(dtype)
    return x, w, gy


def fft_points(geo):
    _, h, w = _fft._plan(geo)
    return h.F * w.F


def assert_fft_close(got, ref, magnitude, geo, dtype):
    """The module docstring's tolerance: SAFETY * eps * log2(Fh*Fw) * max(magnitude)."""
    assert got.dtype == np.dtype(dtype) and got.shape == ref.shape
    assert got.flags.c_contiguous
    eps = np.finfo(dtype).eps
    tol = SAFETY * eps * max(math.log2(fft_points(geo)), 1.0) * float(np.max(magnitude))
    err = float(np.max(np.abs(got.astype(np.float64) - ref), initial=0.0))
    assert err <= tol, f"max error {err:.3g} > tolerance {tol:.3g}"


def run_all(geo, x, w, gy, threads=1):
    return (_fft.fft_forward(x, w, geo, threads), _fft.fft_weight(x, gy, geo, threads),
            _fft.fft_input(w, gy, geo, threads))


def check_against_reference(geo, x, w, gy, dtype, threads=1):
    kw = ref_kwargs(geo)
    y, dw, dx = run_all(geo, x, w, gy, threads)
    ax, aw, agy = np.abs(x), np.abs(w), np.abs(gy)
    assert_fft_close(y, ref_conv2d(x, w, **kw), ref_conv2d(ax, aw, **kw), geo, dtype)
    assert_fft_close(dw, ref_conv2d_weight(x, w.shape, gy, **kw),
                     ref_conv2d_weight(ax, w.shape, agy, **kw), geo, dtype)
    assert_fft_close(dx, ref_conv2d_input(x.shape, w, gy, **kw),
                     ref_conv2d_input(x.shape, aw, agy, **kw), geo, dtype)
    return y, dw, dx


def all_plans(geo):
    """Every (h, w) axis plan _plan chooses among: one tile and the tilings."""
    hs, ws = _fft._options(geo)
    return list(itertools.product(hs, ws))


@pytest.fixture
def force_plan(monkeypatch):
    def force(h, w):
        monkeypatch.setattr(_fft, "_plan", lambda geo: (0.0, h, w))
    return force


# --------------------------------------------------------------------------- the sweep

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_reference(case, dtype, rng):
    geo = make_geo(case)
    check_against_reference(geo, *operands(geo, rng, dtype), dtype)


def test_input_rows_never_read_are_exactly_zero(rng):
    # kernel 2x2, dilation (3, 5) on 5x7 (2 columns of padding on the right):
    # rows {0, 1} and {3, 4} are read, row 2 is not; columns {0..3} and {5, 6}, not 4
    geo = make_geo(("", 2, 2, 5, 7, 2, 2, 2, ((0, 0), (0, 2)), (3, 5), 1))
    x, w, gy = operands(geo, rng, np.float64)
    dx = _fft.fft_input(w, gy, geo, 1)
    ref = ref_conv2d_input(x.shape, w, gy, **ref_kwargs(geo))
    unread = ref == 0
    assert unread[:, :, 2, :].all() and unread[:, :, :, 4].all()
    assert unread.sum() == 2 * 2 * (7 + 5 - 1)
    assert (dx[unread] == 0).all()
    np.testing.assert_allclose(dx, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_float32_in_float32_out(rng):
    geo = make_geo(named("nonsquare_3x5"))
    x, w, gy = operands(geo, rng, np.float32)
    for out in run_all(geo, x, w, gy):
        assert out.dtype == np.float32 and out.flags.c_contiguous


# --------------------------------------------------------------------------- adjoint identity

ADJOINT_CASES = [c for c in CASES if c[0] in (
    "nonsquare_3x5", "dilation_1x3", "groups3_dilated", "depthwise_multiplier2",
    "pad_larger_than_kernel", "H1_1d", "dgrad_rows_never_read", "channels_8x8_kernel_5")]


@pytest.mark.parametrize("case", ADJOINT_CASES, ids=[c[0] for c in ADJOINT_CASES])
def test_adjoint_identity(case, rng):
    """<fwd(x, w), gy> = <w, wgrad(x, gy)> = <x, dgrad(w, gy)> in float64."""
    geo = make_geo(case)
    x, w, gy = operands(geo, rng, np.float64)
    y, dw, dx = run_all(geo, x, w, gy)
    a, b, c = np.vdot(y, gy), np.vdot(w, dw), np.vdot(x, dx)
    scale = np.vdot(np.abs(gy), ref_conv2d(np.abs(x), np.abs(w), **ref_kwargs(geo)))
    assert abs(a - b) <= 1e-10 * scale and abs(a - c) <= 1e-10 * scale


# --------------------------------------------------------------------------- overlap-save tiles

TILED_CASES = [
    ("tiles_1d", 2, 2, 1, 120, 3, 1, 13, ((0, 0), (5, 9)), 1, 1),
    ("tiles_2d_dilated_pad", 2, 2, 30, 41, 3, 4, 5, ((7, 2), (1, 9)), (2, 1), 1),
    ("tiles_groups_dilated", 2, 4, 23, 19, 4, 3, 2, ((0, 0), (5, 5)), (1, 3), 2),
    ("tiles_column", 1, 1, 90, 1, 2, 11, 1, ((4, 0), (0, 0)), 1, 1),
]


@pytest.mark.parametrize("case", TILED_CASES, ids=[c[0] for c in TILED_CASES])
def test_every_tiling_matches_one_tile(case, rng, force_plan):
    """Every overlap-save tiling _plan may choose gives the one-tile result
    (float64), and both match the reference; the adjoint identity holds."""
    geo = make_geo(case)
    x, w, gy = operands(geo, rng, np.float64)
    plans = all_plans(geo)
    assert any(h.tiles > 1 for h, _ in plans) or any(w.tiles > 1 for _, w in plans)
    force_plan(*plans[0])                  # one tile on both axes
    assert plans[0][0].tiles == plans[0][1].tiles == 1
    one = check_against_reference(geo, x, w, gy, np.float64)
    for h, wa in plans[1:]:
        force_plan(h, wa)
        got = run_all(geo, x, w, gy)
        for g, o in zip(got, one):
            np.testing.assert_allclose(g, o, rtol=0, atol=1e-11 * np.abs(o).max(),
                                       err_msg=f"tiles {h.tiles}x{wa.tiles}, F {h.F}x{wa.F}")
        a, b, c = np.vdot(got[0], gy), np.vdot(w, got[1]), np.vdot(x, got[2])
        assert abs(a - b) <= 1e-10 * abs(a) + 1e-12 and abs(a - c) <= 1e-10 * abs(a) + 1e-12


def test_tiled_float32(rng, force_plan):
    geo = make_geo(TILED_CASES[1])
    h, w = [p for p in all_plans(geo) if p[0].tiles > 1 and p[1].tiles > 1][0]
    force_plan(h, w)
    check_against_reference(geo, *operands(geo, rng, np.float32), np.float32)


def test_long_1d_kernel_uses_overlap_save():
    geo = _geometry((1, 1, 1, 65536), (1, 1, 1, 2048), 1, 0, 1, 1)
    _, h, w = _fft._plan(geo)
    assert h.F == 1 and w.tiles > 1 and w.F < 65536


# ----------------------------------------------------------- backends, chunks, threads

def test_numpy_fallback_gives_the_same_result(rng, monkeypatch):
    geo = make_geo(named("dilation_1x3"))
    for dtype in (np.float32, np.float64):
        x, w, gy = operands(geo, rng, dtype)
        with_scipy = run_all(geo, x, w, gy)
        monkeypatch.setattr(_fft, "_scipy_fft", None)
        without = check_against_reference(geo, x, w, gy, dtype)
        monkeypatch.undo()
        eps = np.finfo(dtype).eps
        for a, b in zip(with_scipy, without):
            assert b.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=0, atol=64 * eps * np.abs(a).max())


def test_own_fast_length_matches_scipy():
    sp = pytest.importorskip("scipy.fft")
    for n in list(range(1, 600)) + [2047, 2063, 65536 + 2047, 10**6 + 1]:
        assert _fft._smooth_at_least(n) == sp.next_fast_len(n, real=True), n
    assert _fft._smooth_between(7, 31) == (8, 9, 10, 12, 15, 16, 18, 20, 24, 25, 27, 30)


def test_chunks_and_threads_do_not_change_the_result(rng, monkeypatch):
    geo = make_geo(("", 5, 3, 9, 10, 4, 3, 3, 1, 1, 1))
    x, w, gy = operands(geo, rng, np.float64)
    whole = run_all(geo, x, w, gy)
    monkeypatch.setattr(_fft, "_CHUNK_BYTES", 1)          # one image at a time
    monkeypatch.setattr(_fft, "_PARALLEL_POINTS", 1)      # workers on every transform
    assert _fft._chunk(geo, *_fft._plan(geo)[1:], np.float64) == 1
    for threads in (1, 2):
        for a, b in zip(run_all(geo, x, w, gy, threads), whole):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


def test_too_large_is_a_memory_error(monkeypatch):
    geo = _geometry((1, 1, 4096, 4096), (1, 1, 31, 31), 1, 15, 1, 1)
    monkeypatch.setattr(_api, "_memory_limit", lambda: 2**27)
    x = np.zeros(geo.input_shape, np.float32)
    w = np.zeros(geo.weight_shape, np.float32)
    with pytest.raises(MemoryError, match="FFT forward"):
        _fft.fft_forward(x, w, geo, 1)


# --------------------------------------------------------------------------- policy

def test_unsupported_only_strides():
    assert _fft.fft_unsupported(_geometry((1, 1, 9, 9), (1, 1, 3, 3), 1, 1, 2, 1)) is None
    why = _fft.fft_unsupported(_geometry((1, 1, 9, 9), (1, 1, 3, 3), 2, 1, 1, 1))
    assert isinstance(why, str) and "stride" in why


@pytest.mark.parametrize("op", ["fwd", "wgrad", "dgrad"])
def test_preferred(op):
    big_kernel = _geometry((1, 1, 2048, 2048), (1, 1, 31, 31), 1, "same", 1, 1)
    long_1d = _geometry((1, 1, 1, 65536), (1, 1, 1, 2048), 1, 0, 1, 1)
    layer = _geometry((8, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1, 1)
    small = _geometry((1, 1, 32, 32), (1, 1, 3, 3), 1, 1, 1, 1)
    for geo in (big_kernel, long_1d):
        use, why = _fft.fft_preferred(op, geo, np.float32)
        assert use is True and "FFT" in why, why
    for geo in (layer, small):
        use, why = _fft.fft_preferred(op, geo, np.float32)
        assert use is False and isinstance(why, str) and why, why
    strided = _geometry((1, 1, 2048, 2048), (1, 1, 31, 31), 2, 15, 1, 1)
    assert _fft.fft_preferred(op, strided, np.float32)[0] is False
    # a single 1-D signal: the direct kernels do not split it over threads
    assert _fft.fft_preferred(op, long_1d, np.float32, threads=2)[0] is True
    assert _fft.fft_preferred(op, layer, np.float32, threads=2)[0] is False


def test_preferred_two_threads_large_planes():
    """The measured cases the 2-thread rule had wrong (2026-11-29, bench/README
    "FFT algorithm"): FFT 2.2-2.5x faster on a 2048 x 2048 forward with a 31x31
    kernel, ~3.9x on a 4 -> 4 channel weight gradient with a 31x31 kernel."""
    big_kernel = _geometry((1, 1, 2048, 2048), (1, 1, 31, 31), 1, "same", 1, 1)
    assert _fft.fft_preferred("fwd", big_kernel, np.float32, threads=2)[0] is True
    wide_big = _geometry((2, 4, 256, 256), (4, 4, 31, 31), 1, "same", 1, 1)
    assert _fft.fft_preferred("wgrad", wide_big, np.float32, threads=2)[0] is True
    # the same weight gradient with a 15x15 kernel stays on the direct kernels
    # (they run at 200+ GFLOP/s there)
    wide_mid = _geometry((2, 4, 256, 256), (4, 4, 15, 15), 1, "same", 1, 1)
    assert _fft.fft_preferred("wgrad", wide_mid, np.float32, threads=2)[0] is False


def test_public_api_runs_fft(rng):
    """convx.conv2d(..., algorithm="fft") reaches this module (wired in _api)."""
    import convx
    geo = make_geo(named("dilation2"))
    x, w, gy = operands(geo, rng, np.float32)
    kw = dict(padding=geo.padding, dilation=geo.dilation, groups=geo.groups)
    got = convx.conv2d(x, w, algorithm="fft", **kw)
    np.testing.assert_array_equal(got, _fft.fft_forward(x, w, geo, 1))


# --------------------------------------------------------------------------- public API

def test_public_api_all_ops_bias_out_unbatched(rng):
    """algorithm="fft" through every public function: bias, out=, unbatched
    input, conv1d and conv3d (whose 2-D calls take the same path)."""
    import convx
    from reference import ref_conv2d, ref_conv2d_input, ref_conv2d_weight
    x = rng.standard_normal((2, 4, 20, 17))
    w = rng.standard_normal((6, 2, 7, 5))
    b = rng.standard_normal(6)
    kw = dict(padding=(3, 1), dilation=(1, 2), groups=2)
    ref = ref_conv2d(x, w, b, **kw)
    tol = 1e-11 * np.abs(ref).max()
    np.testing.assert_allclose(convx.conv2d(x, w, b, algorithm="fft", **kw), ref, atol=tol)
    out = np.empty_like(ref, order="F")
    assert convx.conv2d(x, w, b, algorithm="fft", out=out, **kw) is out
    np.testing.assert_allclose(out, ref, atol=tol)
    np.testing.assert_allclose(convx.conv2d(x[0], w, b, algorithm="fft", **kw), ref[0],
                               atol=tol)
    g = rng.standard_normal(ref.shape)
    np.testing.assert_allclose(convx.conv2d_weight(x, w.shape, g, algorithm="fft", **kw),
                               ref_conv2d_weight(x, w.shape, g, **kw), atol=1e-10)
    np.testing.assert_allclose(convx.conv2d_input(x.shape, w, g, algorithm="fft", **kw),
                               ref_conv2d_input(x.shape, w, g, **kw), atol=1e-10)
    x1, w1 = rng.standard_normal((2, 3, 300)), rng.standard_normal((4, 3, 40))
    np.testing.assert_allclose(convx.conv1d(x1, w1, padding="same", algorithm="fft"),
                               convx.conv1d(x1, w1, padding="same", algorithm="direct"),
                               atol=1e-10)
    x3, w3 = rng.standard_normal((1, 2, 4, 9, 9)), rng.standard_normal((3, 2, 2, 5, 5))
    np.testing.assert_allclose(convx.conv3d(x3, w3, padding=2, algorithm="fft"),
                               convx.conv3d(x3, w3, padding=2, algorithm="direct"), atol=1e-10)


def test_public_api_float32_tolerance(rng):
    import convx
    x = rng.standard_normal((1, 1, 300, 300)).astype(np.float32)
    w = rng.standard_normal((1, 1, 31, 31)).astype(np.float32)
    got = convx.conv2d(x, w, padding=15, algorithm="fft")
    want = convx.conv2d(x.astype(np.float64), w.astype(np.float64), padding=15)
    assert got.dtype == np.float32
    # FFT rounding: a few eps * log2(points) of the largest output
    assert np.abs(got - want).max() <= 4 * 2**-23 * 20 * np.abs(want).max()


def test_public_api_non_finite_inputs_run_exactly(rng):
    """inf/NaN would spread over the whole FFT result: such calls run an exact
    algorithm instead and give the reference's result, NaN only where it reads one."""
    import convx
    x = rng.standard_normal((1, 1, 40, 40))
    w = rng.standard_normal((1, 1, 9, 9))
    x[0, 0, 5, 5] = np.inf
    got = convx.conv2d(x, w, padding=4, algorithm="fft")
    want = convx.conv2d(x, w, padding=4, algorithm="direct")
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    assert np.isfinite(got).sum() == 40 * 40 - 81
    np.testing.assert_array_equal(got, want)
    g = rng.standard_normal(got.shape)
    g[0, 0, 0, 0] = np.nan
    np.testing.assert_array_equal(convx.conv2d_input(x.shape, w, g, padding=4, algorithm="fft"),
                                  convx.conv2d_input(x.shape, w, g, padding=4,
                                                     algorithm="direct"))
    dw = convx.conv2d_weight(x, w.shape, g, padding=4, algorithm="fft")
    np.testing.assert_array_equal(dw, convx.conv2d_weight(x, w.shape, g, padding=4,
                                                          algorithm="direct"))


def test_public_api_errors_and_auto():
    import convx
    x, w = np.ones((1, 1, 8, 8)), np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"algorithm='fft' needs stride 1, got stride \(2, 1\)"):
        convx.conv2d(x, w, stride=(2, 1), algorithm="fft")
    with pytest.raises(ValueError, match=r"algorithm='fft' needs stride 1"):
        convx.conv1d_input((1, 1, 9), np.ones((1, 1, 3)), np.ones((1, 1, 4)), stride=2,
                           algorithm="fft")
    # empty operands take the exact path's empty-sum handling
    np.testing.assert_array_equal(convx.conv2d(np.ones((1, 0, 8, 8)), np.ones((2, 0, 3, 3)),
                                               np.arange(2.0), algorithm="fft"),
                                  np.broadcast_to(np.arange(2.0).reshape(2, 1, 1), (1, 2, 6, 6)))
    e = convx.explain("conv2d", (1, 1, 1, 65536), (1, 1, 1, 2048), threads=1)
    assert e.algorithm == "fft" and "FFT" in e.reason
    assert convx.explain("conv2d", (8, 64, 56, 56), (64, 64, 3, 3), padding=1).algorithm != "fft"
