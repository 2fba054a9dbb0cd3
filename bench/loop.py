#!/usr/bin/env python
"""One bench/shapes.txt layer, one op, one layout, timed in a loop (for perf and A/B).

    python bench/loop.py SHAPE OP LAYOUT THREADS SECONDS [PADDING_MODE]
    e.g. python bench/loop.py res1x1 wgrad NHWC 1 1.5
         python bench/loop.py depthwise dgrad NHWC 1 1.5 reflect

OP is fwd, wgrad or dgrad; LAYOUT NCHW or NHWC (the same random data,
transposed outside the timing). Prints the median call time over SECONDS of
back-to-back calls (after one warm-up call) and its GFLOP/s. Long, steady
loops are what `perf record` needs, and alternating two such runs (NCHW /
NHWC, or two builds) is how the session-6 channels-last changes were compared
on this noisy host; bench/speed8.py gives the recorded tables.
"""

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import import_convx, load_shapes  # noqa: E402


def steady_median(f, secs, min_calls=3):
    """(median seconds, number of calls) of back-to-back calls of f for at
    least secs seconds and min_calls calls, after one untimed warm-up call."""
    f()
    times, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < secs or len(times) < min_calls:
        a = time.perf_counter()
        f()
        times.append(time.perf_counter() - a)
    return float(np.median(times)), len(times)


def alternating_rounds(fa, fb, rounds, secs):
    """[(time of fa, time of fb)] for each of `rounds` rounds, each time a
    steady_median over secs seconds, fb first in the odd rounds (so that a slow
    spell of the host lands on both sides of the rounds' ratios)."""
    out = []
    for i in range(rounds):
        if i % 2:
            tb, ta = steady_median(fb, secs)[0], steady_median(fa, secs)[0]
        else:
            ta, tb = steady_median(fa, secs)[0], steady_median(fb, secs)[0]
        out.append((ta, tb))
    return out


def layer_arrays(name, layout, threads, mode="zeros"):
    """x, w, dy (random, fixed seed; x and dy in `layout`), the keyword
    arguments of the layer's convx calls and its FLOP count, for one
    shapes.txt (or sweep_shapes.txt) layer."""
    shapes = {s.name: s for f in ("shapes.txt", "sweep_shapes.txt")
              for s in load_shapes(os.path.join(HERE, f))}
    if name not in shapes:
        sys.exit(f"unknown layer {name!r}: not in bench/shapes.txt or bench/sweep_shapes.txt")
    sh = shapes[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w), dtype=np.float32)
    w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s), dtype=np.float32)
    dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q), dtype=np.float32)
    kw = dict(stride=sh.stride, padding=sh.pad, groups=sh.groups, threads=threads,
              padding_mode=mode)
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        dy = np.ascontiguousarray(dy.transpose(0, 2, 3, 1))
        kw["layout"] = "NHWC"
    elif layout != "NCHW":
        sys.exit(f"LAYOUT must be NCHW or NHWC, got {layout!r}")
    flop = 2.0 * sh.n * sh.k * (sh.c // sh.groups) * sh.r * sh.s * sh.p * sh.q
    return x, w, dy, kw, flop


def make_call(convx, name, op, layout, threads, mode="zeros"):
    """The timed call for one shapes.txt (or sweep_shapes.txt) layer (random
    data, fixed seed) and its FLOP count."""
    x, w, dy, kw, flop = layer_arrays(name, layout, threads, mode)
    calls = {"fwd": lambda: convx.conv2d(x, w, **kw),
             "wgrad": lambda: convx.conv2d_weight(x, w.shape, dy, **kw),
             "dgrad": lambda: convx.conv2d_input(x.shape, w, dy, **kw)}
    if op not in calls:
        sys.exit(f"OP must be one of {sorted(calls)}, got {op!r}")
    return calls[op], flop


def main(argv):
    if len(argv) not in (5, 6):
        sys.exit(__doc__)
    name, op, layout, threads, secs = argv[0], argv[1], argv[2], int(argv[3]), float(argv[4])
    mode = argv[5] if len(argv) == 6 else "zeros"
    convx = import_convx()
    f, flop = make_call(convx, name, op, layout, threads, mode)
    med, ncalls = steady_median(f, secs)
    print(f"{name} {op} {layout}{'' if mode == 'zeros' else ' ' + mode} T{threads}: {med * 1e3:.3f} ms  {flop / med / 1e9:.1f} GFLOP/s "
          f"({ncalls} calls)")


if __name__ == "__main__":
    main(sys.argv[1:])
