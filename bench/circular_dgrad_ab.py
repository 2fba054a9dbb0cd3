#!/usr/bin/env python
"""A depthwise 3x3 layer's circular input gradient, both routes, against zero padding's.

    python bench/circular_dgrad_ab.py N,C,H,W THREADS [ROUNDS [SECONDS]]
    e.g. python bench/circular_dgrad_ab.py 8,128,56,56 1 6 0.3

In one process, on the same random float32 data: conv2d_input with zero
padding (A), with circular padding through the padded border's fused fold
(convx._api._input_circular patched out, B1), and as the circular forward of
grad_output with the flipped weight (_input_circular, B2; session 32);
conv2d_input's remembered routes are forgotten at each switch of side only. Each
round times A then B1 then B2 (the order reversed in odd rounds) for SECONDS
each; prints the median of the rounds' B1 / A and B2 / A, and the Python
layer's time per call of both conv2d_input forms on a tiny layer (1 x 16 x 4
x 4), where the kernels' time is small.
"""

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import steady_median  # noqa: E402
from run import import_convx  # noqa: E402


def main(argv):
    if len(argv) not in (2, 3, 4):
        sys.exit(__doc__)
    shape = tuple(int(v) for v in argv[0].split(","))
    threads = int(argv[1])
    rounds = int(argv[2]) if len(argv) > 2 else 6
    secs = float(argv[3]) if len(argv) > 3 else 0.3
    convx = import_convx()
    from convx import _api
    C = shape[1]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((C, 1, 3, 3)).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    routed = _api._input_circular
    last = [None]

    def call(mode, route):
        def f():
            if last[0] is not f:
                # (a route switch: conv2d_input remembers the border's route
                # for a call's arguments, which would then skip the other)
                _api._input_circular = route
                _api._FAST_DGRAD.clear()
                last[0] = f
            return convx.conv2d_input(shape, w, g, padding=1, groups=C, padding_mode=mode,
                                      threads=threads)
        return f

    fused = call("circular", lambda *a, **k: None)
    forward = call("circular", routed)
    zeros = call("zeros", routed)
    np.testing.assert_allclose(forward(), fused(), rtol=1e-4, atol=1e-4)
    r1, r2 = [], []
    for i in range(rounds):
        order = [zeros, fused, forward] if i % 2 == 0 else [forward, fused, zeros]
        t = {f: steady_median(f, secs)[0] for f in order}
        r1.append(t[fused] / t[zeros])
        r2.append(t[forward] / t[zeros])
    _api._input_circular = routed
    _api._FAST_DGRAD.clear()
    print(f"{shape} T{threads}: circular / zeros, fused fold {np.median(r1):.3f}, "
          f"as forward {np.median(r2):.3f} (rounds: "
          f"{' '.join(f'{a:.3f}/{b:.3f}' for a, b in zip(r1, r2))})")
    tiny = (1, 16, 4, 4)
    wt = np.ones((16, 1, 3, 3), np.float32)
    gt = np.ones(tiny, np.float32)
    for mode in ("zeros", "circular"):
        f = lambda: convx.conv2d_input(tiny, wt, gt, padding=1, groups=16, padding_mode=mode,
                                       threads=1)
        f()
        n = 3000
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        print(f"tiny layer {tiny} conv2d_input {mode}: {(time.perf_counter() - t0) / n * 1e6:.1f}"
              " us a call")


if __name__ == "__main__":
    main(sys.argv[1:])
