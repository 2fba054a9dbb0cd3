#!/usr/bin/env python
"""A/B of two builds of convx's extension module inside one process.

    python bench/so_ab.py SO_A SO_B N C H W K R PAD THREADS ROUNDS SECONDS [fwd|dgrad|wgrad [ALGO]]
    e.g. python bench/so_ab.py /tmp/old.so convx/_conv*.so 8 64 56 56 64 3 1 1 9 0.3

Loads both `_conv` shared objects (built from two commits) side by side, picks
the CPU's best SIMD path in each, and times their direct forward on the same
random float32 arrays (stride 1, square kernel, PAD zeros on every side;
"dgrad": the stride-1 input gradient as the forward of the padded grad_output
it runs as, K and C exchanged; "wgrad": the direct weight gradient of the
same layer). ALGO is the algorithm both builds run ("direct" unless given:
"im2col" times the GEMM path). Each round times A and B for SECONDS each (median of
back-to-back calls), alternating which goes first; the output is every
round's B / A ratio, their median, and the ratio of each build's best round
(on a host whose other tenants halve a core's speed at times: the least
disturbed rounds), after checking that the two builds agree. Swapping .so
files between separate runs let this noisy shared VM's drift (10-30% from one
minute to the next in session 11) into every ratio; inside one process the
rounds see the same drift.
"""

import importlib.util
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loop import alternating_rounds  # noqa: E402


def load(path, tag):
    """The extension module at path, under a package name of its own."""
    spec = importlib.util.spec_from_file_location(tag + "._conv", path)
    if spec is None:
        sys.exit(f"so_ab.py: cannot load {path!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.select_isa(module.cpu_best_isa())
    return module


def main(argv):
    if len(argv) not in (12, 13, 14) or (len(argv) >= 13 and argv[12] not in
                                         ("fwd", "dgrad", "wgrad")):
        sys.exit(__doc__)
    a, b = load(argv[0], "cx_a"), load(argv[1], "cx_b")
    N, C, H, W, K, R, pad, threads, rounds = map(int, argv[2:11])
    secs = float(argv[11])
    op = argv[12] if len(argv) >= 13 else "fwd"
    algo = argv[13] if len(argv) == 14 else "direct"
    if op == "dgrad":
        P = H + 2 * pad - R + 1
        C, K, H, W, pad = K, C, P, W + 2 * pad - R + 1, R - 1 - pad
    P, Q = H + 2 * pad - R + 1, W + 2 * pad - R + 1
    if min(N, C, K, R, P, Q, threads, rounds) <= 0 or pad < 0:
        sys.exit("so_ab.py: the layer has no output (or a count is not positive)")
    geo = (N, C, H, W, K, R, R, P, Q, 1, 1, 1, 1, pad, pad, 1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N * C * H * W).astype(np.float32)
    if op == "wgrad":
        dy = rng.standard_normal(N * K * P * Q).astype(np.float32)
        ya, yb = np.empty(K * C * R * R, np.float32), np.empty(K * C * R * R, np.float32)

        def fa():
            a.conv2d_wgrad(x, dy, ya, geo, algo, threads)

        def fb():
            b.conv2d_wgrad(x, dy, yb, geo, algo, threads)
        reduction = N * P * Q
    else:
        w = rng.standard_normal(K * C * R * R).astype(np.float32)
        bias = np.zeros(K, np.float32)
        ya, yb = np.empty(N * K * P * Q, np.float32), np.empty(N * K * P * Q, np.float32)

        def fa():
            a.conv2d_fwd(x, w, bias, ya, geo, False, algo, threads)

        def fb():
            b.conv2d_fwd(x, w, bias, yb, geo, False, algo, threads)
        reduction = C * R * R

    fa()
    fb()
    scale = float(np.abs(ya).max()) or 1.0
    if not np.allclose(ya, yb, rtol=1e-4, atol=1e-5 * scale * reduction):
        sys.exit(f"so_ab.py: the builds disagree (max difference {np.abs(ya - yb).max():.3g})")
    times = alternating_rounds(fa, fb, rounds, secs)
    ratios = [tb / ta for ta, tb in times]
    best_a, best_b = min(t[0] for t in times), min(t[1] for t in times)
    ta, tb = times[-1]
    flops = 2.0 * N * K * C * R * R * P * Q
    print(f"A {ta * 1e3:.3f} ms ({flops / ta / 1e9:.1f} GFLOP/s), B {tb * 1e3:.3f} ms; "
          f"B/A per round {' '.join(f'{r:.3f}' for r in ratios)}; "
          f"median {float(np.median(ratios)):.3f}; best rounds' B/A {best_b / best_a:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
