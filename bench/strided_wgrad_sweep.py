#!/usr/bin/env python
"""Strided weight gradients: direct against im2col over a grid of layers.

    python bench/strided_wgrad_sweep.py --threads 1

Stride 2, batch 4, C in {3, 8, 16, 32} input channels, K in {32, 64} output
channels, 3x3 and (C <= 8) 7x7 kernels with 'same'-style padding, square
inputs of 56, 64, 112 and 128 pixels (output rows of 28..64). For each layer
prints direct's time over im2col's (the faster of two medians each, >= 0.25 s
of calls after a warm-up call) and what algorithm="auto" picks. This is the
measurement behind auto's rule for strided weight gradients (convx/_api.py,
_auto_rule; bench/README.md, session 8).
"""

import argparse
import os
import sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import steady_median  # noqa: E402
from run import import_convx  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    convx = import_convx()
    from convx import _api
    rng = np.random.default_rng(0)
    print("| C | K | kernel | input | output row | direct / im2col | auto picks |")
    print("|---|---|---|---|---|---|---|")
    for C in (3, 8, 16, 32):
        for K in (32, 64):
            for R in (3, 7):
                if C >= 16 and R == 7:
                    continue
                for H in (56, 64, 112, 128):
                    x = rng.standard_normal((4, C, H, H), dtype=np.float32)
                    w = rng.standard_normal((K, C, R, R), dtype=np.float32)
                    kw = dict(stride=2, padding=R // 2, threads=args.threads)
                    dy = rng.standard_normal(convx.conv2d(x, w, **kw).shape, dtype=np.float32)
                    t = {}
                    for alg in ("direct", "im2col", "direct", "im2col"):
                        s = steady_median(lambda: convx.conv2d_weight(
                            x, w.shape, dy, algorithm=alg, **kw), 0.25, 5)[0]
                        t[alg] = min(t.get(alg, np.inf), s)
                    geo = _api._geometry(x.shape, w.shape, 2, R // 2, 1, 1)
                    pick = _api._auto("wgrad", geo, np.float32, args.threads)
                    print(f"| {C} | {K} | {R}x{R} | {H} | {dy.shape[3]} | "
                          f"{t['direct'] / t['im2col']:.2f} | {pick} |", flush=True)


if __name__ == "__main__":
    main()
