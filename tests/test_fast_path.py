"""conv2d's memo of decisions (convx._api._FAST_FWD): a call repeated with the
same argument types, shapes, dtypes and parameters skips the checks and
decisions; these tests show the second call computes what the first did, on
new data of every kind the first call's checks looked at."""

import numpy as np
import pytest

import convx
from convx import _api

from reference import ref_conv2d


def _key_count():
    return len(_api._FAST_FWD)


@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col"])
def test_repeated_call_uses_the_memo_and_new_data(algorithm):
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (2, 3, 9, 11)).astype(np.float32)
    w = rng.integers(-3, 4, (16, 3, 3, 3)).astype(np.float32)
    b = rng.integers(-3, 4, 16).astype(np.float32)
    _api._FAST_FWD.clear()
    kw = dict(padding=1, algorithm=algorithm, threads=1)
    y1 = convx.conv2d(x, w, b, **kw)
    assert _key_count() == 1
    np.testing.assert_array_equal(y1, ref_conv2d(x, w, b, padding=1))
    # new values, a non-contiguous input of the same shape, unbatched forms
    x2 = np.asfortranarray(rng.integers(-3, 4, x.shape).astype(np.float32))
    y2 = convx.conv2d(x2, w, b, **kw)
    np.testing.assert_array_equal(y2, ref_conv2d(x2, w, b, padding=1))
    np.testing.assert_array_equal(convx.conv2d(x2, w, b, **kw), y2)
    assert _key_count() == 1
    # a non-finite weight tap over the padding: NaN where the reference has it
    wi = w.copy()
    wi[2, 1, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        got = convx.conv2d(x, wi, b, **kw)
        want = ref_conv2d(x.astype(np.float64), wi.astype(np.float64), b, padding=1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    # other dtypes, thread counts, bias forms are other calls
    convx.conv2d(x, w, None, **kw)
    convx.conv2d(x.astype(np.float64), w, b, **kw)
    y3 = convx.conv2d(x, w, b, padding=1, algorithm=algorithm, threads=2)
    np.testing.assert_array_equal(y3, y1)
    assert _key_count() == 4


def test_memo_keeps_errors_and_out():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    y = convx.conv2d(x, w, padding=1)
    convx.conv2d(x, w, padding=1)
    # a wrong bias is checked on every call (its shape is in the key)
    with pytest.raises(ValueError, match="bias must have shape"):
        convx.conv2d(x, w, np.ones(3, np.float32), padding=1)
    # out= never uses the memo, and gets the same numbers
    out = np.empty_like(y)
    assert convx.conv2d(x, w, padding=1, out=out) is out
    np.testing.assert_array_equal(out, y)
    # lists (unhashable parameters) take the checked path
    np.testing.assert_array_equal(convx.conv2d(x, w, padding=[1, 1]), y)


def test_fft_fallback_is_not_remembered():
    """A forward that auto sends to the FFT falls back to an exact algorithm
    on non-finite data; that choice belongs to the call, not to the shape."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 128, 128)).astype(np.float32)
    w = rng.standard_normal((1, 1, 63, 63)).astype(np.float32)
    if convx.explain("conv2d", x.shape, w.shape, padding=31).algorithm != "fft":
        pytest.skip("auto does not pick the FFT for this shape here")
    _api._FAST_FWD.clear()
    xi = x.copy()
    xi[0, 0, 3, 3] = np.inf
    with np.errstate(invalid="ignore"):
        convx.conv2d(xi, w, padding=31)
    assert _key_count() == 0
    convx.conv2d(x, w, padding=31)
    assert _key_count() == 0


def test_plain_loops_patch_nonfinite_padding(monkeypatch):
    """Under a memory limit below the direct tiles' workspace, "auto" runs the
    direct algorithm's plain loops, which skip padding taps: conv2d patches the
    NaNs an inf weight over the padding gives (the band kernels and im2col
    multiply the padding's zeros and need no patch). Not remembered either."""
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    w[0, 0, 0, 0] = np.inf
    geo = _api._geometry(x.shape, w.shape, 1, 1, 1, 1)
    ws = convx._conv.plan_info(geo.astuple(), "fwd", "direct", np.float32)["workspace_bytes"]
    im = convx._conv.plan_info(geo.astuple(), "fwd", "im2col", np.float32)["workspace_bytes"]
    monkeypatch.setattr(_api, "_memory_limit", lambda: min(ws, im) // 2)
    monkeypatch.setattr(_api, "_ALWAYS_FITS", 0)
    _api._FAST_FWD.clear()
    expected = np.full((4, 4), np.inf, np.float32)
    expected[0, :] = expected[:, 0] = np.nan
    for _ in range(2):
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(convx.conv2d(x, w, padding=1, threads=1)[0, 0],
                                          expected)
    assert _key_count() == 0


def test_direct_without_band_kernels_patches_on_repeat():
    """A geometry the band kernels do not take (a stride beyond their sane
    range) runs "direct" on the plain loops; its remembered repeat still
    patches the NaNs of an inf weight over the padding."""
    x = np.ones((1, 1, 1, 8), np.float32)
    w = np.ones((1, 1, 1, 3), np.float32)
    w[0, 0, 0, 0] = np.inf
    kw = dict(stride=(2**25, 1), padding=(0, 1), algorithm="direct", threads=1)
    geo = _api._geometry(x.shape, w.shape, (2**25, 1), ((0, 0), (1, 1)), 1, 1)
    assert not convx._conv.plan_info(geo.astuple(), "fwd", "direct",
                                     np.float32)["direct_kernels"]
    _api._FAST_FWD.clear()
    expected = np.full(8, np.inf, np.float32)
    expected[0] = np.nan
    for calls in (1, 2):
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(convx.conv2d(x, w, **kw)[0, 0, 0], expected)
        assert _key_count() == 1


def test_channels_last_repeat():
    rng = np.random.default_rng(6)
    x = rng.integers(-3, 4, (2, 9, 11, 3)).astype(np.float32)     # NHWC
    w = rng.integers(-3, 4, (16, 3, 3, 3)).astype(np.float32)
    b = rng.integers(-3, 4, 16).astype(np.float32)
    want = ref_conv2d(x.transpose(0, 3, 1, 2), w, b, padding=1).transpose(0, 2, 3, 1)
    _api._FAST_FWD.clear()
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d(x, w, b, padding=1, layout="NHWC"), want)
    assert _key_count() == 1
    x1 = rng.integers(-3, 4, (9, 11, 3)).astype(np.float32)     # unbatched, no bias
    want1 = ref_conv2d(x1.transpose(2, 0, 1)[None], w, padding=1)[0].transpose(1, 2, 0)
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d(x1, w, padding=1, layout="NHWC"), want1)
    assert _key_count() == 2


# ------------------------------------------------------------ conv2d_input's memo

@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col"])
def test_input_gradient_repeat_uses_the_memo_and_new_data(algorithm):
    """conv2d_input's memo (_api._FAST_DGRAD): the repeated call computes what
    the checked one does, on new values, non-contiguous operands and other
    dtypes; every other call (thread count, shapes) is its own entry."""
    from reference import ref_conv2d_input
    rng = np.random.default_rng(7)
    size = (2, 3, 9, 11)
    w = rng.integers(-3, 4, (16, 3, 3, 3)).astype(np.float32)
    g = rng.integers(-3, 4, (2, 16, 9, 11)).astype(np.float32)
    kw = dict(padding=1, algorithm=algorithm, threads=1)
    _api._FAST_DGRAD.clear()
    d1 = convx.conv2d_input(size, w, g, **kw)
    assert len(_api._FAST_DGRAD) == 1
    picked = convx.explain("conv2d_input", size, w.shape, padding=1, threads=1).algorithm
    assert [v[3] for v in _api._FAST_DGRAD.values()] == [
        picked if algorithm == "auto" else algorithm]
    np.testing.assert_array_equal(d1, ref_conv2d_input(size, w, g, padding=1))
    g2 = np.asfortranarray(rng.integers(-3, 4, g.shape).astype(np.float32))
    w2 = rng.integers(-3, 4, w.shape).astype(np.float32)[:, :, ::-1, :]
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d_input(size, w2, g2, **kw),
                                      ref_conv2d_input(size, w2, g2, padding=1))
    assert len(_api._FAST_DGRAD) == 1
    wi = w.copy()
    wi[3, 1, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        got = convx.conv2d_input(size, wi, g, **kw)
        want = convx.conv2d_input(size, wi, g, padding=1, algorithm=algorithm, threads=2)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isfinite(got)], want[np.isfinite(want)])
    for _ in range(2):      # float64 weight, float32 grad_output: computed in float64
        d64 = convx.conv2d_input(size, w.astype(np.float64), g, **kw)
        assert d64.dtype == np.float64
        np.testing.assert_array_equal(d64, d1)
    assert len(_api._FAST_DGRAD) == 3
    # a wrong grad_output shape is checked on every call (its shape is in the key)
    with pytest.raises(ValueError, match="grad_output must have"):
        convx.conv2d_input(size, w, g[:, :, :8], **kw)
    with pytest.raises(ValueError, match="grad_output must have"):
        convx.conv2d_input(size, w, g[:, :, :8], **kw)
    # lists (unhashable) and unbatched forms
    np.testing.assert_array_equal(convx.conv2d_input(list(size), w, g, **kw), d1)
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d_input(size[1:], w, g[1], **kw), d1[1])


def test_input_gradient_channels_last_and_modes_repeat():
    """Channels-last input gradients are remembered as "nhwc"; a padding
    mode's call as "border" (its zeros-padding part under its own key too) or,
    for thin groups, "fold"; repeats agree with the reference, and a repeat
    with an inf weight (which rules both out) takes the checked path."""
    from reference_nd import ref_conv_input
    rng = np.random.default_rng(8)
    w = rng.integers(-3, 4, (16, 8, 3, 3)).astype(np.float32)
    g = rng.integers(-3, 4, (2, 9, 11, 16)).astype(np.float32)      # NHWC
    want = ref_conv2d_nhwc_input((2, 9, 11, 8), w, g)
    _api._FAST_DGRAD.clear()
    for _ in range(2):
        np.testing.assert_array_equal(
            convx.conv2d_input((2, 9, 11, 8), w, g, padding=1, layout="NHWC"), want)
    assert [v[3] for v in _api._FAST_DGRAD.values()] == ["nhwc"]
    gc = np.ascontiguousarray(g.transpose(0, 3, 1, 2))
    wantr = ref_conv_input((2, 8, 9, 11), w, gc, padding=((1, 1), (1, 1)), mode="reflect")
    for _ in range(3):
        np.testing.assert_array_equal(
            convx.conv2d_input((2, 8, 9, 11), w, gc, padding=1, padding_mode="reflect"),
            wantr)
    picked = convx.explain("conv2d_input", (2, 8, 9, 11), w.shape, padding=1).algorithm
    assert [(k[9], v[3]) for k, v in _api._FAST_DGRAD.items()] == [
        ("zeros", "nhwc"), ("zeros", picked), ("reflect", "border")]
    # thin groups: the fused fold, remembered as such
    w1 = rng.integers(-3, 4, (4, 1, 3, 3)).astype(np.float32)
    g1 = rng.integers(-3, 4, (2, 4, 9, 11)).astype(np.float32)
    want1 = ref_conv_input((2, 1, 9, 11), w1, g1, padding=((1, 1), (1, 1)), mode="circular")
    for _ in range(2):
        np.testing.assert_array_equal(
            convx.conv2d_input((2, 1, 9, 11), w1, g1, padding=1, padding_mode="circular"),
            want1)
    assert [v[3] for v in _api._FAST_DGRAD.values()][-1] == "fold"
    # an inf weight on a repeat: the checked path (the fold's fallback), NaN
    # and inf where the padded gradient folded has them
    for ww, gg, size, mode in ((w, gc, (2, 8, 9, 11), "reflect"),
                               (w1, g1, (2, 1, 9, 11), "circular")):
        wi = ww.copy()
        wi[0, 0, 1, 1] = np.inf
        with np.errstate(invalid="ignore"):
            got = convx.conv2d_input(size, wi, gg, padding=1, padding_mode=mode)
            psize = size[:2] + (size[2] + 2, size[3] + 2)
            from convx import _padmode
            want = _padmode.fold(convx.conv2d_input(psize, wi, gg), ((1, 1), (1, 1)), mode)
        np.testing.assert_array_equal(got, want)


def ref_conv2d_nhwc_input(size, w, g):
    from reference import ref_conv2d_input
    n, h, wd, c = size
    return ref_conv2d_input((n, c, h, wd), w, g.transpose(0, 3, 1, 2),
                            padding=1).transpose(0, 2, 3, 1)


def test_input_gradient_fft_fallback_is_not_remembered():
    """An input gradient that auto sends to the FFT falls back to an exact
    algorithm on non-finite data: not remembered, as the forward's."""
    rng = np.random.default_rng(9)
    w = rng.standard_normal((1, 1, 63, 63)).astype(np.float32)
    g = rng.standard_normal((1, 1, 128, 128)).astype(np.float32)
    if convx.explain("conv2d_input", (1, 1, 128, 128), w.shape,
                     padding=31).algorithm != "fft":
        pytest.skip("auto does not pick the FFT for this shape here")
    _api._FAST_DGRAD.clear()
    gi = g.copy()
    gi[0, 0, 3, 3] = np.inf
    with np.errstate(invalid="ignore"):
        convx.conv2d_input((1, 1, 128, 128), w, gi, padding=31)
    convx.conv2d_input((1, 1, 128, 128), w, g, padding=31)
    assert len(_api._FAST_DGRAD) == 0


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_forward_repeat(mode):
    """A padding mode the direct kernels fill into their bands is remembered
    with its code; repeats (new values, a non-contiguous input, unbatched)
    agree with the reference; an inf weight gives no NaN (there are no zeros
    to multiply)."""
    from reference_nd import ref_conv
    rng = np.random.default_rng(10)
    x = rng.integers(-3, 4, (2, 3, 9, 11)).astype(np.float32)
    w = rng.integers(-3, 4, (8, 3, 3, 3)).astype(np.float32)
    kw = dict(padding=(2, 1), padding_mode=mode, algorithm="direct", threads=1)
    _api._FAST_FWD.clear()
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d(x, w, **kw),
                                      ref_conv(x, w, padding=((2, 2), (1, 1)), mode=mode))
    assert [v[-1] for v in _api._FAST_FWD.values()] == [_api._PAD_CODES[mode]]
    x2 = np.asfortranarray(rng.integers(-3, 4, x.shape).astype(np.float32))
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d(x2, w, **kw),
                                      ref_conv(x2, w, padding=((2, 2), (1, 1)), mode=mode))
        np.testing.assert_array_equal(convx.conv2d(x2[0], w, **kw),
                                      ref_conv(x2[:1], w, padding=((2, 2), (1, 1)),
                                               mode=mode)[0])
    wi = w.copy()
    wi[1, 0, 0, 0] = np.inf
    xi = np.abs(x) + 1      # no zero pixel: no 0 * inf anywhere
    for _ in range(2):
        assert not np.isnan(convx.conv2d(xi, wi, **kw)).any()
    assert len(_api._FAST_FWD) == 2


# ------------------------------------------------------------ conv2d_weight's memo

@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col"])
def test_weight_gradient_repeat_uses_the_memo_and_new_data(algorithm):
    """conv2d_weight's memo (_api._FAST_WGRAD): repeats on new values,
    non-contiguous and unbatched operands, a padding mode, agree with the
    reference; the algorithm remembered is the one the checked call ran."""
    from reference import ref_conv2d_weight
    from reference_nd import ref_conv_weight
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, (2, 3, 9, 11)).astype(np.float32)
    g = rng.integers(-3, 4, (2, 16, 9, 11)).astype(np.float32)
    ws = (16, 3, 3, 3)
    kw = dict(padding=1, algorithm=algorithm, threads=1)
    _api._FAST_WGRAD.clear()
    d1 = convx.conv2d_weight(x, ws, g, **kw)
    np.testing.assert_array_equal(d1, ref_conv2d_weight(x, ws, g, padding=1))
    picked = convx.explain("conv2d_weight", x.shape, ws, padding=1, threads=1).algorithm
    assert [v[3] for v in _api._FAST_WGRAD.values()] == [
        picked if algorithm == "auto" else algorithm]
    x2 = np.asfortranarray(rng.integers(-3, 4, x.shape).astype(np.float32))
    g2 = rng.integers(-3, 4, g.shape).astype(np.float32)[:, :, :, ::-1]
    for _ in range(2):
        np.testing.assert_array_equal(convx.conv2d_weight(x2, ws, g2, **kw),
                                      ref_conv2d_weight(x2, ws, g2, padding=1))
        np.testing.assert_array_equal(convx.conv2d_weight(x2[1], ws, g2[1], **kw),
                                      ref_conv2d_weight(x2[1:], ws, g2[1:], padding=1))
    assert len(_api._FAST_WGRAD) == 2
    with pytest.raises(ValueError, match="grad_output must have"):
        convx.conv2d_weight(x, ws, g[:, :, :8], **kw)
    if algorithm != "im2col":
        for _ in range(2):
            np.testing.assert_array_equal(
                convx.conv2d_weight(x2, ws, g2, padding=1, padding_mode="circular",
                                    algorithm=algorithm, threads=1),
                ref_conv_weight(x2, ws, g2, padding=((1, 1), (1, 1)), mode="circular"))
        assert [v[-1] for v in _api._FAST_WGRAD.values()][-1] == _api._PAD_CODES["circular"]
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    gn = np.ascontiguousarray(g.transpose(0, 2, 3, 1))
    for _ in range(2):
        np.testing.assert_array_equal(
            convx.conv2d_weight(nhwc, ws, gn, padding=1, layout="NHWC", threads=1), d1)
    assert [v[3] for v in _api._FAST_WGRAD.values()][-1] == "nhwc"


def test_memos_keep_the_memory_checks(monkeypatch):
    """A remembered call skips the memory checks only while its bytes are
    below _ALWAYS_FITS (requests that small are never checked): under a limit
    set after the first call, every op's repeat raises the checked path's
    MemoryError."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 8, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 8, 16, 16)).astype(np.float32)
    calls = [lambda: convx.conv2d(x, w, padding=1),
             lambda: convx.conv2d_input(x.shape, w, g, padding=1),
             lambda: convx.conv2d_input(x.shape, w, g, padding=1, padding_mode="reflect"),
             lambda: convx.conv2d_weight(x, w.shape, g, padding=1),
             lambda: convx.conv2d(x, w, padding=1, padding_mode="circular"),
             lambda: convx.conv2d_weight(x, w.shape, g, padding=1, padding_mode="reflect")]
    for call in calls:
        call()
        call()
    monkeypatch.setattr(_api, "_memory_limit", lambda: 1024)
    monkeypatch.setattr(_api, "_ALWAYS_FITS", 0)
    for call in calls:
        with pytest.raises(MemoryError):
            call()
