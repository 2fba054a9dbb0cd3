#!/usr/bin/env python
"""A/B of two builds of convx's extension module through the public API, in one process.

    python bench/api_ab.py SO_A SO_B LAYER OP ALGO THREADS ROUNDS SECONDS [NHWC | MODE]
    e.g. python bench/api_ab.py /tmp/old.so convx/_conv*.so conv3d_32 fwd im2col 1 10 0.5

bench/so_ab.py times the extension's 2-D entry points; this times a whole
public call (convx.conv3d, conv1d, conv2d and their gradients, Python layer
included) with each build in turn: the modules that hold the extension
(convx._api, _nd, _layout, _config) are pointed at build A or B before each
side of a round. LAYER is conv3d_32 or conv1d_audio (bench/speed8.py's
layers) or a row name of bench/shapes.txt / bench/sweep_shapes.txt; OP fwd,
wgrad or dgrad; ALGO auto, direct, im2col (or fft); NHWC (2-D layers only)
runs the channels-last form on the same data transposed outside the timing;
MODE (reflect, replicate or circular) passes that padding_mode, and every
call then forgets convx's remembered fast paths (their checks are timed, on
both sides: a path one build remembers may not exist in the other).
Rounds alternate which
build goes first (bench/loop.py); prints every round's B / A, their median and
the ratio of each build's best round, after checking the builds agree.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import alternating_rounds  # noqa: E402
from run import import_convx, load_shapes  # noqa: E402
from so_ab import load  # noqa: E402

ND_LAYERS = {"conv3d_32": ((2, 32, 16, 56, 56), (32, 32, 3, 3, 3), 1),
             "conv1d_audio": ((8, 64, 16000), (64, 64, 9), 4)}


def layer_call(convx, name, op, algo, threads, nhwc=False, mode="zeros"):
    """(callable, flops) for one layer and op."""
    rng = np.random.default_rng(0)
    if name in ND_LAYERS:
        xs, ws, pad = ND_LAYERS[name]
        fns = {3: (convx.conv3d, convx.conv3d_weight, convx.conv3d_input),
               1: (convx.conv1d, convx.conv1d_weight, convx.conv1d_input)}[len(xs) - 2]
        kw = dict(padding=pad)
    else:
        shapes = {s.name: s for f in ("shapes.txt", "sweep_shapes.txt")
                  for s in load_shapes(os.path.join(HERE, f))}
        if name not in shapes:
            sys.exit(f"api_ab.py: no layer {name!r}")
        s = shapes[name]
        xs, ws = (s.n, s.c, s.h, s.w), (s.k, s.c // s.groups, s.r, s.s)
        fns = (convx.conv2d, convx.conv2d_weight, convx.conv2d_input)
        kw = dict(stride=s.stride, padding=s.pad, groups=s.groups)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    y = fns[0](x, w, **kw)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    flops = 2.0 * y.size * np.prod(ws[1:])
    kw.update(algorithm=algo, threads=threads)
    if nhwc:
        if name in ND_LAYERS:
            sys.exit("api_ab.py: NHWC is for the 2-D layers")
        x, dy = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (x, dy))
        kw.update(layout="NHWC")
    if mode != "zeros":
        kw.update(padding_mode=mode)
    call = {"fwd": lambda: fns[0](x, w, **kw),
            "wgrad": lambda: fns[1](x, w.shape, dy, **kw),
            "dgrad": lambda: fns[2](x.shape, w, dy, **kw)}[op]
    return call, flops


def main(argv):
    if len(argv) not in (8, 9) or argv[3] not in ("fwd", "wgrad", "dgrad") or \
            argv[8:] not in ([], ["NHWC"], ["reflect"], ["replicate"], ["circular"]):
        sys.exit(__doc__)
    convx = import_convx()
    from convx import _api, _config, _layout, _nd
    mods = [load(argv[0], "cx_a"), load(argv[1], "cx_b")]
    holders = (_api, _nd, _layout, _config)
    threads, rounds, secs = int(argv[5]), int(argv[6]), float(argv[7])
    mode = argv[8] if argv[8:] and argv[8] != "NHWC" else "zeros"
    call, flops = layer_call(convx, argv[2], argv[3], argv[4], threads, argv[8:] == ["NHWC"],
                             mode)

    def using(m):
        def run():
            for h in holders:
                h._conv = m
            if mode != "zeros":
                for memo in (_api._FAST_FWD, _api._FAST_WGRAD, _api._FAST_DGRAD):
                    memo.clear()
            return call()
        return run

    fa, fb = using(mods[0]), using(mods[1])
    ya, yb = fa(), fb()
    scale = float(np.abs(ya).max()) or 1.0
    if not np.allclose(ya, yb, rtol=1e-4, atol=1e-6 * scale):
        sys.exit(f"api_ab.py: the builds disagree (max difference {np.abs(ya - yb).max():.3g})")
    times = alternating_rounds(fa, fb, rounds, secs)
    ratios = [tb / ta for ta, tb in times]
    best_a, best_b = min(t[0] for t in times), min(t[1] for t in times)
    tag = " " + argv[8] if argv[8:] else ""
    print(f"{argv[2]} {argv[3]} {argv[4]} {threads}T{tag}: A best {best_a * 1e3:.2f} ms "
          f"({flops / best_a / 1e9:.1f} GFLOP/s), B best {best_b * 1e3:.2f} ms; "
          f"B/A per round {' '.join(f'{r:.3f}' for r in ratios)}; "
          f"median {float(np.median(ratios)):.3f}; best rounds' B/A {best_b / best_a:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
