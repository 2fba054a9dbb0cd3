#!/usr/bin/env python
"""A/B of two builds' padding-mode border alone (_conv.conv2d_dgrad_border), in one process.

    python bench/border_only_ab.py SO_A SO_B THREADS [MODE [ROUNDS [SECONDS]]]
    e.g. python bench/border_only_ab.py /tmp/old.so convx/_conv*.so 1 reflect 8 0.3

On lenet2's input gradient (bench/shapes.txt: 64 x 8 x 14 x 14, 16 output
channels, 5 x 5, padding 2; float32): the border's restricted-tap gradient
added into a zeroed dx by each build in turn (bench/so_ab.py's loader), so
that a change to the border driver is seen without the zeros-padding
gradient's 75% of the whole call around it. Checks the builds agree (to
rounding: the border's sums may be added in another order), then prints each
round's B / A of the median call time (rounds alternate which build goes
first) and their median.
"""

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from so_ab import load  # noqa: E402


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    a_mod, b_mod = load(sys.argv[1], "border_a"), load(sys.argv[2], "border_b")
    threads = int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "reflect"
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    secs = float(sys.argv[6]) if len(sys.argv) > 6 else 0.3
    sys.path.insert(0, os.path.dirname(HERE))
    from convx import _api
    xs, ws = (64, 8, 14, 14), (16, 8, 5, 5)
    geo = _api._geometry(xs, ws, 1, 2, 1, 1)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(ws).astype(np.float32).reshape(-1)
    g = rng.standard_normal(geo.output_shape).astype(np.float32).reshape(-1)
    fold = _api._fold_tables(geo, mode)

    def call(mod, dx):
        mod.conv2d_dgrad_border(w, g, dx, geo.astuple(), fold, threads)

    def median_time(mod):
        dx = np.zeros(int(np.prod(xs)), np.float32)
        call(mod, dx)
        times, t0 = [], time.perf_counter()
        while time.perf_counter() - t0 < secs:
            t = time.perf_counter()
            call(mod, dx)
            times.append(time.perf_counter() - t)
        return float(np.median(times))

    da, db = np.zeros(int(np.prod(xs)), np.float32), np.zeros(int(np.prod(xs)), np.float32)
    call(a_mod, da)
    call(b_mod, db)
    np.testing.assert_allclose(db, da, rtol=1e-5, atol=1e-5 * float(np.abs(da).max()))
    ratios = []
    for r in range(rounds):
        if r % 2:
            tb, ta = median_time(b_mod), median_time(a_mod)
        else:
            ta, tb = median_time(a_mod), median_time(b_mod)
        ratios.append(tb / ta)
    print(f"lenet2 border T{threads} {mode}: A {ta * 1e6:.0f} us; B/A per round "
          + " ".join(f"{x:.3f}" for x in ratios) + f"; median {np.median(ratios):.3f}")


if __name__ == "__main__":
    main()
