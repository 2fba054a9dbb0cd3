"""algorithm="auto" and convx.explain.

The rule itself was chosen by measurement (bench/auto_sweep.py); these tests
pin that explain() tells the truth about it (the algorithm it names is the one
"auto" runs: the same bits on random floats, where the two algorithms round
differently), that its features and reasons are there, and that it validates
its arguments like the functions it describes.
"""

import numpy as np
import pytest

import convx
from convx import _api

CASES = [
    # (input shape, weight shape, kwargs)
    ((4, 128, 20, 20), (128, 1, 3, 3), dict(padding=1, groups=128)),   # depthwise
    ((3, 64, 12, 12), (256, 64, 3, 3), dict(padding=1)),                # wide
    ((2, 32, 16, 16), (32, 32, 1, 1), {}),                              # pointwise
    ((4, 3, 40, 40), (16, 3, 5, 5), dict(stride=2, padding=2)),        # strided, thin C
    ((8, 8, 14, 14), (16, 8, 5, 5), dict(padding=2)),                   # lenet2-like
    ((2, 16, 7, 7), (16, 16, 3, 3), dict(padding=1)),                   # 7-pixel rows
    ((2, 1, 30, 30), (32, 1, 3, 3), dict(padding=1)),                   # one input channel
]
OPS = {"conv2d": "fwd", "conv2d_weight": "wgrad", "conv2d_input": "dgrad"}


def _run(op, x, w, gy, algorithm, kw):
    if op == "conv2d":
        return convx.conv2d(x, w, algorithm=algorithm, **kw)
    if op == "conv2d_weight":
        return convx.conv2d_weight(x, w.shape, gy, algorithm=algorithm, **kw)
    return convx.conv2d_input(x.shape, w, gy, algorithm=algorithm, **kw)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_explain_names_the_algorithm_auto_runs(op, case):
    xs, ws, kw = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    gy = rng.standard_normal(convx.conv2d(x, w, **kw).shape).astype(np.float32)
    e = convx.explain(op, xs, ws, **kw)
    assert e.op == OPS[op] and e.algorithm in ("direct", "im2col")
    got = _run(op, x, w, gy, "auto", kw)
    np.testing.assert_array_equal(got, _run(op, x, w, gy, e.algorithm, kw))
    assert e.reason and str(e).startswith(f"{OPS[op]}: auto -> {e.algorithm}")
    assert e.features["K_per_group"] == ws[0] // kw.get("groups", 1)


def test_rule_on_the_regimes_it_separates():
    def pick(op, xs, ws, **kw):
        return convx.explain(op, xs, ws, **kw).algorithm
    for op in OPS:
        assert pick(op, (8, 128, 56, 56), (128, 1, 3, 3), padding=1, groups=128) == "direct"
        # the forward and input gradient of a wide 3x3 layer run the sliding
        # channel-vector tiles where the build has them (vgg3x3_512: measured
        # 1.1-1.2x im2col forward, input gradient 1.13x at 1 thread and even
        # at 2); its weight gradient the GEMM (>= 128 output channels: tied
        # with the tiles there, 1.15-1.2x them on c128k128_3x3)
        wide = ("direct" if op != "conv2d_weight" and _api._channel_tiles(np.float32)
                else "im2col")
        assert pick(op, (4, 512, 28, 28), (512, 512, 3, 3), padding=1) == wide
        # res1x1: the GEMM, but for its input gradient (64 -> 256 channels
        # over 8 x 56^2 pixels) on the channel-vector tiles (1.09-1.13x)
        # (where 512-bit FMAs run as halves, Zen 4; on a Zen 5 the GEMM
        # 1.2-1.3x faster)
        pw = ("direct" if op == "conv2d_input" and _api._channel_tiles(np.float32)
              and convx._conv.active_isa() != "avx2" and convx._conv.cpu_avx512_halves()
              else "im2col")
        assert pick(op, (8, 256, 56, 56), (64, 256, 1, 1)) == pw
        assert pick(op, (8, 256, 28, 28), (64, 256, 1, 1)) == "im2col"
        assert pick(op, (1, 1, 2048, 2048), (1, 1, 7, 7), padding=3) == "direct"
    assert pick("conv2d_input", (8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == "im2col"
    assert pick("conv2d", (8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == "direct"
    # batch-1 weight gradients of >= 32 channels: the GEMM, unless the sliding
    # channel-vector tiles apply (3/5/7-tap rows, 16-channel blocks) or, on
    # AVX2, the image has >= 3000 output pixels
    avx2 = convx._conv.active_isa() == "avx2"
    assert pick("conv2d_weight", (1, 64, 56, 56), (64, 64, 3, 3), padding=1) == (
        "direct" if _api._channel_tiles(np.float32) or avx2 else "im2col")
    assert pick("conv2d_weight", (1, 64, 40, 40), (64, 64, 3, 3), padding=1) == (
        "direct" if _api._channel_tiles(np.float32) else "im2col")
    # (dilated: no sliding tiles; AVX2 measured 1.02 | 1.04 im2col / direct)
    assert pick("conv2d_weight", (1, 64, 56, 56), (64, 64, 3, 3), padding=1,
                dilation=(1, 2)) == ("direct" if avx2 else "im2col")
    assert pick("conv2d_weight", (8, 64, 56, 56), (64, 64, 3, 3), padding=1) == "direct"
    # one vector of 16 output channels over a reduction of <= 32 taps: the
    # GEMM's input gradient; the forward on the sliding tiles (since their
    # broadcasts went into the FMAs: c3k16_3x3 im2col / direct 1.07 | 1.60)
    # and on AVX2 (no such GEMM tile: see test_rule_on_avx2)
    assert pick("conv2d", (16, 3, 64, 64), (16, 3, 3, 3), padding=1) == (
        "direct" if _api._channel_tiles(np.float32) or avx2 else "im2col")
    # (32-wide rows, which 12-pixel tiles divide badly: still the tiles here,
    # c1k16_5x5 im2col / direct 1.08 | 1.16)
    assert pick("conv2d", (32, 1, 32, 32), (16, 1, 5, 5), padding=2) == (
        "direct" if _api._channel_tiles(np.float32) or avx2 else "im2col")
    # (dilated rows: no sliding tiles, the GEMM as before)
    assert pick("conv2d", (16, 3, 64, 64), (16, 3, 3, 3), padding=1, dilation=(1, 2)) == (
        "direct" if convx._conv.active_isa() == "avx2" else "im2col")
    assert pick("conv2d", (64, 1, 28, 28), (8, 1, 5, 5), padding=2) == "direct"
    assert pick("conv2d", (64, 8, 14, 14), (16, 8, 5, 5), padding=2) == "direct"
    # weight gradients of >= 128 channels on padded rows of <= 16 pixels: the
    # channel-vector tiles (which leave the padding's products out) from ~1000
    # output pixels (res3x3_256: im2col / direct 1.10 | 1.32), the GEMM below
    # (4 x 128 x 14^2: 0.86 | 0.95) and without padding
    # (AVX2 takes its 8-lane tiles on rows of up to two vectors: test_rule_on_avx2)
    # 1x1 layers on rows of <= 16 pixels with >= 64 channels in and out: the
    # forward and input gradient on the channel-vector tiles (8 x 512 -> 128 x
    # 7^2 im2col / direct 1.5-1.6), weight gradients and thinner layers on the
    # GEMM (32 -> 32 x 14^2: 0.89-0.93), and wider rows -- but for input
    # gradients from 32-64 channels to at least twice as many over >= 20000
    # pixels (res1x1's, 1.09-1.13x; not over 8 x 28^2)
    # (the expanding input gradients: the direct tiles where 512-bit FMAs run
    # as halves only)
    expand = "direct" if convx._conv.cpu_avx512_halves() else "im2col"
    # (and 1x1 layers on 14-pixel rows: the tiles there only; on 7-pixel rows
    # on either core)
    rows14 = expand
    if _api._channel_tiles(np.float32) and not avx2:
        for xs, ws, fwd, dgrad in (((8, 512, 7, 7), (128, 512, 1, 1), "direct", "direct"),
                                   ((8, 256, 14, 14), (256, 256, 1, 1), rows14, rows14),
                                   ((8, 32, 14, 14), (32, 32, 1, 1), "im2col", "im2col"),
                                   ((8, 16, 7, 7), (64, 16, 1, 1), "im2col", "im2col"),
                                   ((8, 64, 7, 7), (32, 64, 1, 1), "im2col", "im2col"),
                                   ((8, 256, 56, 56), (64, 256, 1, 1), "im2col", expand),
                                   ((32, 256, 28, 28), (64, 256, 1, 1), "im2col", expand),
                                   ((8, 256, 28, 28), (64, 256, 1, 1), "im2col", "im2col"),
                                   ((8, 512, 28, 28), (128, 512, 1, 1), "im2col", "im2col")):
            for threads in (1, 2):
                assert pick("conv2d", xs, ws, threads=threads) == fwd, xs
                assert pick("conv2d_input", xs, ws, threads=threads) == dgrad, xs
                assert pick("conv2d_weight", xs, ws, threads=threads) == "im2col"
        # (one image's input gradient on two threads: the GEMM splits it better)
        assert pick("conv2d_input", (1, 512, 7, 7), (512, 512, 1, 1), threads=1) == "direct"
        assert pick("conv2d_input", (1, 512, 7, 7), (512, 512, 1, 1), threads=2) == "im2col"
        assert pick("conv2d", (8, 512, 7, 7), (128, 512, 1, 1), dtype=np.float64) == "im2col"
    # input gradients of one input channel from 32-48 output channels on two
    # threads (AVX-512 float32): the direct tiles on rows of 24-32 pixels (two
    # mostly full vectors: c1k32_3x3 im2col / direct 1.13-1.19), else the GEMM
    if _api._channel_tiles(np.float32) and not avx2:
        for width, k, r, algo in ((28, 32, 3, "direct"), (32, 48, 5, "direct"),
                                  (20, 32, 3, "im2col"), (40, 32, 3, "im2col"),
                                  (28, 64, 3, "im2col"), (28, 32, 7, "im2col")):
            assert pick("conv2d_input", (32, 1, width, width), (k, 1, r, r), padding=r // 2,
                        threads=2) == algo, (width, k, r)
        assert pick("conv2d_input", (32, 1, 28, 28), (32, 1, 3, 3), padding=1,
                    dtype=np.float64, threads=2) == "im2col"
    if not avx2:
        tiles = "direct" if _api._channel_tiles(np.float32) else "im2col"
        assert pick("conv2d_weight", (8, 256, 14, 14), (256, 256, 3, 3), padding=1) == tiles
        assert pick("conv2d_weight", (4, 128, 14, 14), (128, 128, 3, 3), padding=1) == "im2col"
        assert pick("conv2d_weight", (8, 256, 16, 16), (256, 256, 3, 3)) == "im2col"


def test_rule_on_avx2():
    """With 16 vector registers (AVX2) the direct tiles are smaller and the
    channel-vector tiles have 8 lanes (float32, kernel rows of 3, 5 or 7
    taps): medium layers' forwards and input gradients go to the GEMM except
    on narrow rows there, 16-channel forwards of thin inputs and thin strided
    weight gradients to the direct tiles (bench/auto_sweep.py on a Zen 3)."""
    before = convx._conv.active_isa()
    if convx._conv.select_isa("avx2") != "avx2":
        convx._conv.select_isa(before)
        pytest.skip("this CPU lacks AVX2")
    try:
        def pick(op, xs, ws, **kw):
            return convx.explain(op, xs, ws, **kw).algorithm
        for op in ("conv2d", "conv2d_input"):
            # 3-tap rows of any width from up to 128 channels: the 8-lane
            # channel-vector tiles (the 12-pixel one in assembly); 256: the GEMM
            assert pick(op, (8, 64, 56, 56), (64, 64, 3, 3), padding=1) == "direct"  # res3x3_64
            assert pick(op, (1, 64, 56, 56), (64, 64, 3, 3), padding=1) == "direct"  # latency1
            assert pick(op, (2, 128, 56, 56), (128, 128, 3, 3), padding=1) == "direct"
            assert pick(op, (1, 256, 56, 56), (256, 256, 3, 3), padding=1) == "im2col"
            # 5-tap rows: up to 4 vectors from <= 64 channels
            assert pick(op, (8, 64, 56, 56), (64, 64, 5, 5), padding=2) == "im2col"
            assert pick(op, (64, 8, 14, 14), (16, 8, 5, 5), padding=2) == "direct"  # lenet2
            assert "AVX2" in convx.explain(op, (8, 32, 28, 28), (32, 32, 3, 3),
                                           padding=1).reason
        assert pick("conv2d", (16, 3, 64, 64), (16, 3, 3, 3), padding=1) == "direct"
        assert pick("conv2d", (4, 8, 112, 112), (32, 8, 7, 7), stride=2, padding=3) == "direct"
        assert pick("conv2d_weight", (4, 3, 112, 112), (64, 3, 7, 7), stride=2,
                    padding=3) == "direct"
        assert pick("conv2d_weight", (4, 16, 112, 112), (64, 16, 3, 3), stride=2,
                    padding=1) == "im2col"
        assert pick("conv2d_weight", (32, 64, 7, 7), (64, 64, 3, 3), padding=1) == "direct"
        assert pick("conv2d_input", (32, 1, 28, 28), (32, 1, 3, 3), padding=1,
                    threads=1) == "im2col"
        assert pick("conv2d_input", (64, 8, 14, 14), (16, 8, 5, 5), padding=2) == "direct"
        # 16 channels: direct on 7-pixel rows (one vector)
        assert pick("conv2d_input", (64, 16, 7, 7), (16, 16, 3, 3), padding=1) == "direct"
        # strided forwards: the GEMM only from a reduction of 512
        assert pick("conv2d", (4, 32, 128, 128), (32, 32, 3, 3), stride=2, padding=1) == "direct"
        assert pick("conv2d", (8, 64, 56, 56), (64, 64, 3, 3), stride=2, padding=1) == "im2col"
        # float32 output channels in blocks of 8 over kernel rows of 3 taps: the
        # 8-lane channel-vector tiles on rows of up to 2 vectors, and of up to
        # 4 from at most 64 channels (any width from 128 channels, 3 taps); the
        # GEMM on wider rows or more channels
        assert pick("conv2d", (64, 16, 7, 7), (16, 16, 3, 3), padding=1) == "direct"
        for op in ("conv2d", "conv2d_input"):
            assert pick(op, (8, 16, 28, 28), (64, 16, 3, 3), padding=1) == "direct"
            assert pick(op, (8, 32, 28, 28), (32, 32, 3, 3), padding=1) == "direct"
            assert pick(op, (32, 64, 7, 7), (64, 64, 3, 3), padding=1) == "direct"
            assert pick(op, (4, 512, 28, 28), (512, 512, 3, 3), padding=1) == "im2col"
            assert "channel-vector" in convx.explain(op, (8, 256, 14, 14), (256, 256, 3, 3),
                                                     padding=1).reason
        # 1x1 layers of <= 32 channels: direct forward and input gradient only
        for op in ("conv2d", "conv2d_input"):
            assert pick(op, (8, 32, 56, 56), (32, 32, 1, 1)) == "direct"
            assert pick(op, (8, 64, 28, 28), (16, 64, 1, 1)) == "im2col"
        # 16 channels on 56-pixel rows: the 8-lane channel-vector tiles
        for op in ("conv2d", "conv2d_input"):
            assert pick(op, (8, 16, 56, 56), (16, 16, 3, 3), padding=1) == "direct"
        assert pick("conv2d_weight", (8, 32, 56, 56), (32, 32, 1, 1)) == "im2col"
        # rows of two vectors: direct (c128k128_3x3; res3x3_256 on the
        # channel-vector tiles, the GEMM on the pixel tiles' float64)
        for op in ("conv2d", "conv2d_input"):
            assert pick(op, (4, 128, 14, 14), (128, 128, 3, 3), padding=1) == "direct"
            assert pick(op, (8, 256, 14, 14), (256, 256, 3, 3), padding=1) == "direct"
            assert convx.explain(op, (8, 256, 14, 14), (256, 256, 3, 3), padding=1,
                                 dtype=np.float64).algorithm == "im2col"
        # weight gradients on rows of up to 16 pixels: AVX2's float32 8-lane
        # channel-vector tiles, from any number of output channels
        assert pick("conv2d_weight", (8, 256, 14, 14), (256, 256, 3, 3), padding=1) == "direct"
        assert convx.explain("conv2d_weight", (8, 256, 14, 14), (256, 256, 3, 3), padding=1,
                             dtype=np.float64).algorithm == "im2col"
        # one image's weight gradient: direct from 32 channels, the GEMM from
        # 64 but on images of >= 3000 output pixels
        assert pick("conv2d_weight", (1, 32, 56, 56), (32, 32, 3, 3), padding=1) == "direct"
        assert pick("conv2d_weight", (1, 64, 40, 40), (64, 64, 3, 3), padding=1) == "im2col"
        assert pick("conv2d_weight", (1, 64, 56, 56), (64, 64, 3, 3), padding=1) == "direct"
        assert pick("conv2d_weight", (1, 64, 112, 112), (64, 64, 3, 3), padding=1) == "direct"
        # 1-D layers keep the direct column tiles (conv1d_audio)
        assert pick("conv1d", (8, 64, 16000), (64, 64, 9), padding=4) == "direct"
        assert pick("conv1d_input", (8, 64, 16000), (64, 64, 9), padding=4) == "direct"
    finally:
        convx._conv.select_isa(before)


def test_rule_depends_on_the_vector_width(dev_flags):
    """Rows of 7 pixels fill 7 of 8 AVX2 float lanes but 7 of 16 AVX-512 lanes;
    with 16 output channels (a block of channel-vector tiles, where the build
    has them) AVX-512 goes direct again. 24 output channels on an AVX-512 CPU
    that runs 512-bit FMAs as two halves (Zen 4; CX_DEV_HALVES = 16384 makes
    any AVX-512 CPU plan as one, CX_DEV_NO_HALVES = 8192 none) run AVX2's
    8-lane channel-vector tiles: direct too."""
    geo = _api._geometry((2, 16, 7, 7), (24, 16, 3, 3), 1, 1, 1, 1)
    geo16 = _api._geometry((2, 16, 7, 7), (16, 16, 3, 3), 1, 1, 1, 1)
    before = convx._conv.active_isa()
    picks = {}
    try:
        for isa in ("avx2", "avx512"):
            if convx._conv.select_isa(isa) == isa:
                for flags in (8192, 16384):
                    dev_flags(flags)    # (_auto_rule: _auto memoises per path only)
                    picks[isa, flags] = _api._auto_rule("fwd", geo, np.float32)[0]
                dev_flags(0)
                picks[isa + "/16"] = (_api._auto("fwd", geo16, np.float32),
                                      _api._channel_tiles(np.float32))
    finally:
        convx._conv.select_isa(before)
    if len(picks) < 6:
        pytest.skip("this CPU lacks AVX2 or AVX-512")
    assert picks["avx2", 8192] == picks["avx2", 16384] == "direct"
    assert picks["avx512", 8192] == "im2col" and picks["avx512", 16384] == "direct"
    assert picks["avx2/16"] == ("direct", False)
    pick, tiles = picks["avx512/16"]
    assert pick == ("direct" if tiles else "im2col")
    assert _api._auto("fwd", geo16, np.float64) in ("direct", "im2col")


def test_explain_accepts_unbatched_shapes_and_dtypes():
    a = convx.explain("fwd", (3, 32, 32), (8, 3, 3, 3), padding=1)
    b = convx.explain("conv2d", (1, 3, 32, 32), (8, 3, 3, 3), padding=1, dtype=np.float64)
    assert a.algorithm == b.algorithm and a.features["batch"] == 1


def test_shape_arguments_given_arrays_say_so_briefly():
    """An array passed where its shape belongs (explain's input_shape,
    conv2d_weight's weight_size, conv2d_input's input_size) is an error that
    names the argument and asks for .shape, without printing the array
    (ValueError for an array of the wrong dimensionality, as test_bad_inputs
    pins; TypeError for nested sequences); a 1-D integer array is a shape."""
    x = np.zeros((64, 8, 14, 14), np.float32)
    w = np.zeros((16, 8, 5, 5), np.float32)
    g = np.zeros((64, 16, 14, 14), np.float32)
    calls = [
        ("input_shape", lambda: convx.explain("conv2d_weight", x, w.shape, padding=2)),
        ("weight_size", lambda: convx.conv2d_weight(x, w, g, padding=2)),
        ("input_size", lambda: convx.conv2d_input(x, w, g, padding=2)),
        ("weight_size", lambda: convx.conv2d_weight(x, w.tolist(), g, padding=2)),
        ("weight_size", lambda: convx.conv2d_weight(x, list(range(100)), g, padding=2)),
    ]
    for name, call in calls:
        with pytest.raises((TypeError, ValueError), match=name) as info:
            call()
        assert len(str(info.value)) < 200, str(info.value)
    assert convx.explain("conv2d_weight", np.array(x.shape), w.shape, padding=2).algorithm
    assert convx.explain("conv2d_weight", x.shape, (16, np.array(8), 5, 5), padding=2).algorithm
    np.testing.assert_array_equal(
        convx.conv2d_weight(x[:1], np.array(w.shape), g[:1], padding=2),
        convx.conv2d_weight(x[:1], w.shape, g[:1], padding=2))


@pytest.mark.parametrize("bad, exc, words", [
    (dict(op="conv4d"), ValueError, "op must be one of"),
    (dict(op=1), ValueError, "op must be one of"),
    (dict(input_shape=(1, 2)), ValueError, "input_shape"),
    (dict(weight_shape=(8, 3)), ValueError, "weight_shape"),
    (dict(weight_shape=(8, 3, 3)), ValueError, "input_shape must have 2 or 3 entries"),
    (dict(weight_shape=(8, 4, 3, 3)), ValueError, "groups"),
    (dict(input_shape="abc"), TypeError, "input_shape"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(stride=0), ValueError, "stride"),
])
def test_explain_validates_its_arguments(bad, exc, words):
    args = dict(op="conv2d", input_shape=(2, 3, 16, 16), weight_shape=(8, 3, 3, 3))
    args.update(bad)
    with pytest.raises(exc, match=words):
        convx.explain(args.pop("op"), args.pop("input_shape"), args.pop("weight_shape"),
                      **args)
