#!/usr/bin/env python
"""PyTorch / convx auto on one bench/shapes.txt layer, alternating rounds in one process.

    python bench/pair.py LAYER OP THREADS ROUNDS SECONDS
    e.g. python bench/pair.py lenet2 dgrad 1 12 0.3

OP is fwd, wgrad or dgrad. Each round times PyTorch (torch.nn.functional.conv2d,
torch.nn.grad.conv2d_weight / conv2d_input, THREADS intra-op threads) and convx
(algorithm "auto", THREADS threads) on the same arrays for SECONDS each
(median of back-to-back calls after a warm-up call), alternating which goes
first; printed: both medians in GFLOP/s, every round's PyTorch time / convx
time and their median (> 1: convx faster). The longer form of bench/speed2.py's
"paired" column, for targets on the line (bench/RESULTS.md, session 24).
Needs PyTorch (`pip install torch==2.13.0`).
"""

import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loop import alternating_rounds  # noqa: E402
from run import import_convx, load_shapes  # noqa: E402


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    name, op, threads, rounds, secs = argv[0], argv[1], int(argv[2]), int(argv[3]), float(argv[4])
    try:
        import torch
    except ImportError:
        sys.exit("bench/pair.py needs PyTorch (pip install torch==2.13.0)")
    convx = import_convx()
    shapes = {s.name: s for s in load_shapes(os.path.join(HERE, "shapes.txt"))}
    if name not in shapes:
        sys.exit(f"unknown layer {name!r}: not in bench/shapes.txt")
    if op not in ("fwd", "wgrad", "dgrad"):
        sys.exit(f"OP must be fwd, wgrad or dgrad, got {op!r}")
    sh = shapes[name]
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((sh.n, sh.c, sh.h, sh.w), dtype=np.float32)
    w = rng.standard_normal((sh.k, sh.c // sh.groups, sh.r, sh.s), dtype=np.float32)
    dy = rng.standard_normal((sh.n, sh.k, sh.p, sh.q), dtype=np.float32)
    kw = dict(stride=sh.stride, padding=sh.pad, groups=sh.groups)
    tx, tw, tdy = map(torch.from_numpy, (x, w, dy))
    ours = {"fwd": lambda: convx.conv2d(x, w, threads=threads, **kw),
            "wgrad": lambda: convx.conv2d_weight(x, w.shape, dy, threads=threads, **kw),
            "dgrad": lambda: convx.conv2d_input(x.shape, w, dy, threads=threads, **kw)}[op]
    theirs = {"fwd": lambda: torch.nn.functional.conv2d(tx, tw, None, **kw),
              "wgrad": lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, **kw),
              "dgrad": lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, **kw)}[op]
    with torch.no_grad():
        r = alternating_rounds(theirs, ours, rounds, secs)
    fl = sh.flops
    print(f"{name} {op} {threads}T: torch {fl / statistics.median(a for a, _ in r) / 1e9:.1f} "
          f"GFLOP/s, convx {fl / statistics.median(b for _, b in r) / 1e9:.1f}; torch/convx "
          f"per round {' '.join(f'{a / b:.2f}' for a, b in r)}; median "
          f"{statistics.median(a / b for a, b in r):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
