#!/usr/bin/env python
"""Session 9's timing loops: the 1-D / 3-D layers of bench/speed8.py, and the
Python side of a small 2-D call.

    python bench/nd_loop.py conv3d_32 OP THREADS SECONDS [--fold]
    python bench/nd_loop.py conv1d_audio OP THREADS SECONDS
    python bench/nd_loop.py overhead ROUNDS
    python bench/nd_loop.py ab conv3d_32 OP ALGO THREADS ROUNDS

OP is fwd, wgrad or dgrad ("auto" algorithm). --fold turns the native 3-D
path off (convx._nd._NATIVE_3D = False: the depth-folded 2-D form runs), for
the before/after figures of bench/README.md "Session 9". Prints the median call
time over SECONDS of back-to-back calls and its GFLOP/s. "overhead" times
lenet2's forward (bench/shapes.txt) at 1 thread through convx.conv2d and
through the Cython call alone on the same arrays, ROUNDS rounds of 0.5 s each,
and prints the difference: what the Python layer costs a call. "ab" times
the depth-folded form (A) against the native 3-D path (B) of one build in
ROUNDS alternating rounds of 1 s a side (bench/loop.py), ALGO "auto",
"direct" or "im2col", and prints every round's B / A, their median and the
ratio of each side's best round (session 13: the native row-band GEMM).
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import alternating_rounds, steady_median  # noqa: E402
from run import import_convx  # noqa: E402

LAYERS = {"conv3d_32": ((2, 32, 16, 56, 56), (32, 32, 3, 3, 3), 1),
          "conv1d_audio": ((8, 64, 16000), (64, 64, 9), 4)}


def layer_call(convx, name, op, **kw):
    """(callable running op on the layer's random float32 arrays, its FLOPs)."""
    xs, ws, pad = LAYERS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    nd = len(xs) - 2
    fwd = {1: convx.conv1d, 3: convx.conv3d}[nd]
    wgt = {1: convx.conv1d_weight, 3: convx.conv3d_weight}[nd]
    inp = {1: convx.conv1d_input, 3: convx.conv3d_input}[nd]
    dy = rng.standard_normal(fwd(x, w, padding=pad).shape, dtype=np.float32)
    kw = dict(padding=pad, **kw)
    call = {"fwd": lambda: fwd(x, w, **kw),
            "wgrad": lambda: wgt(x, w.shape, dy, **kw),
            "dgrad": lambda: inp(x.shape, w, dy, **kw)}[op]
    return call, 2 * np.prod(dy.shape) * np.prod(ws[1:])


def layer(convx, name, op, threads, secs, fold):
    from convx import _nd
    _nd._NATIVE_3D = not fold
    call, flops = layer_call(convx, name, op, threads=threads)
    t, n = steady_median(call, secs)
    print(f"{name} {op} T{threads}{' fold' if fold else ''}: {t * 1e3:.2f} ms  "
          f"{flops / t / 1e9:.1f} GFLOP/s ({n} calls)")


def fold_ab(convx, name, op, algo, threads, rounds):
    from convx import _nd
    call, flops = layer_call(convx, name, op, algorithm=algo, threads=threads)

    def side(native):
        def run():
            _nd._NATIVE_3D = native
            return call()
        return run

    fa, fb = side(False), side(True)
    ya, yb = fa(), fb()
    diff = float(np.abs(ya - yb).max() / max(np.abs(ya).max(), 1e-30))
    times = alternating_rounds(fa, fb, rounds, 1.0)
    _nd._NATIVE_3D = True
    ratios = [tb / ta for ta, tb in times]
    ba, bb = min(t[0] for t in times), min(t[1] for t in times)
    print(f"{name} {op} {algo} T{threads}: folded best {flops / ba / 1e9:.1f} GFLOP/s, native "
          f"best {flops / bb / 1e9:.1f}; native / folded per round "
          f"{' '.join(f'{r:.3f}' for r in ratios)}; median {float(np.median(ratios)):.3f}; "
          f"best rounds' {bb / ba:.3f} (max relative difference {diff:.1e})")


def overhead(convx, rounds):
    from convx import _api, _conv
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 14, 14), dtype=np.float32)
    w = rng.standard_normal((16, 8, 5, 5), dtype=np.float32)
    geo = _api._geometry(x.shape, w.shape, 1, 2, 1, 1)
    y = np.empty(geo.output_shape, np.float32)
    b = np.empty(0, np.float32)
    raw = lambda: _conv.conv2d_fwd(x.reshape(-1), w.reshape(-1), b, y.reshape(-1),  # noqa: E731
                                   geo.astuple(), False, "direct", 1, 0)
    full = lambda: convx.conv2d(x, w, padding=2, threads=1)  # noqa: E731
    for _ in range(rounds):
        a, _n = steady_median(raw, 0.5)
        c, _n = steady_median(full, 0.5)
        print(f"lenet2 fwd T1: Cython call {a * 1e6:.1f} us, convx.conv2d {c * 1e6:.1f} us, "
              f"Python side {(c - a) * 1e6:.1f} us")


def main(argv):
    convx = import_convx()
    if argv[:1] == ["overhead"] and len(argv) == 2:
        overhead(convx, int(argv[1]))
    elif argv[:1] == ["ab"] and len(argv) == 6 and argv[1] in LAYERS and \
            argv[2] in ("fwd", "wgrad", "dgrad"):
        fold_ab(convx, argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif len(argv) in (4, 5) and argv[0] in LAYERS and argv[1] in ("fwd", "wgrad", "dgrad"):
        layer(convx, argv[0], argv[1], int(argv[2]), float(argv[3]), argv[4:] == ["--fold"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
