#!/usr/bin/env python
"""conv3d's explicit algorithms against each other (and PyTorch), one process.

    python bench/conv3d_algos.py THREADS ROUNDS SECONDS [--torch] [--first N]
    e.g. python bench/conv3d_algos.py 1 4 0.3
         python bench/conv3d_algos.py 2 5 0.4 --torch --first 1

For each of seven 3-D layers (3x3x3 kernels, padding 1; the first is
bench/speed8.py's conv3d_32), the forward and the input gradient are timed
with algorithm "direct" and "im2col" (and "auto", and PyTorch's
conv3d / conv3d_input with --torch) for SECONDS each (median of back-to-back
calls after a warm-up call), ROUNDS rounds alternating the order; printed per
layer and op: the median over rounds of direct / im2col time and, with
--torch, of PyTorch's time over each convx algorithm's (> 1: convx faster).
Session 34 (a Zen 5) used it to show that auto's direct pick for conv3d_32
trails both the GEMM and PyTorch there while other 3-D layers go the other way
(bench/README.md, session 34, item 4). --first N: only the first N layers.
"""

import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

LAYERS = [((2, 32, 16, 56, 56), 32), ((2, 16, 16, 32, 32), 16), ((1, 64, 8, 28, 28), 64),
          ((4, 8, 16, 56, 56), 16), ((1, 128, 8, 14, 14), 128), ((2, 32, 8, 28, 28), 64),
          ((1, 3, 16, 112, 112), 32)]


def median_time(fn, secs):
    fn()
    times, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < secs or len(times) < 3:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    args, use_torch, first, rest = [], False, len(LAYERS), sys.argv[1:]
    while rest:
        a = rest.pop(0)
        if a == "--torch":
            use_torch = True
        elif a == "--first" and rest:
            first = int(rest.pop(0))
        else:
            args.append(a)
    if len(args) != 3 or any(a.startswith("--") for a in args):
        sys.exit(__doc__)
    threads, rounds, secs = int(args[0]), int(args[1]), float(args[2])
    import convx
    torch = None
    if use_torch:
        import torch
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    for xs, k in LAYERS[:first]:
        ws = (k, xs[1], 3, 3, 3)
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        g = rng.standard_normal(convx.conv3d(x, w, padding=1).shape, dtype=np.float32)
        for op in ("fwd", "dgrad"):
            def call(algo):
                if op == "fwd":
                    return lambda: convx.conv3d(x, w, padding=1, algorithm=algo, threads=threads)
                return lambda: convx.conv3d_input(xs, w, g, padding=1, algorithm=algo,
                                                  threads=threads)
            fns = {a: call(a) for a in ("direct", "im2col", "auto")}
            if torch is not None:
                xt, wt, gt = map(torch.from_numpy, (x, w, g))
                fns["torch"] = ((lambda: torch.nn.functional.conv3d(xt, wt, padding=1))
                                if op == "fwd" else
                                (lambda: torch.nn.grad.conv3d_input(xs, wt, gt, padding=1)))
            got = {a: [] for a in fns}
            for r in range(rounds):
                for a in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
                    got[a].append(median_time(fns[a], secs))
            ratio = statistics.median(d / i for d, i in zip(got["direct"], got["im2col"]))
            line = f"{xs} -> {k} {op}: direct / im2col {ratio:.2f}"
            if torch is not None:
                line += "; torch / " + ", ".join(
                    f"{a} {statistics.median(t / c for t, c in zip(got['torch'], got[a])):.3f}"
                    for a in ("direct", "im2col", "auto"))
            print(line, flush=True)


if __name__ == "__main__":
    main()
